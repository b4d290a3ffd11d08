"""``cwdsl run``: a schedule over real frames (``sources``: the demo, a video, a frames
folder, at the size the network runs at), one stream (``run``) or several batched through
one network (``streamrun``, each stream's folder committed when it ends: ``streamout``;
which finished streams a corpus keeps: ``resume``), how its frames are delivered (``pacing``:
as fast as asked, paced in real time, or as a live source's arrive), and what a run records
(``records``).

Over 1,500 lines because every way of running a schedule on frames (one stream or several,
from a file or in real time, resumed or not) shares its sources and its record here: the
delivery in real time (``pacing``) takes ``sources``' frames and feeds ``run``'s one loop,
and in a package of its own it would import this one and be imported back."""
