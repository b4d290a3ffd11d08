"""What a user's files hold: video and frames folders read (PyAV, Pillow) and written
(``video``, ``encode``), live sources read as their frames arrive (``live``: a camera, a
stream URL, MPEG-TS on standard input), label maps as palette PNGs, their colours
(``palette``) and class legends (``legend``)."""
