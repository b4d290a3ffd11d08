"""``cwdsl graph``'s picture of a compiled program: the layout measured from the labels
(``layout``), the clocks and measurements above the stage row (``above``), the shapes and
routed edges (``shapes``), and the figure or DOT file (``graph``)."""
