"""``cwdsl run``: a schedule over real frames (``sources``: the demo, a video, a frames
folder, at the size the network runs at), one stream (``run``) or several batched through
one network (``streamrun``, each stream's folder committed when it ends: ``streamout``;
which finished streams a corpus keeps: ``resume``), and what a run records (``records``)."""
