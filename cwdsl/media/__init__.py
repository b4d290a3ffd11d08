"""What a user's files hold: video and frames folders read (PyAV, Pillow) and written
(``video``, ``encode``), label maps as palette PNGs, their colours (``palette``) and class
legends (``legend``)."""
