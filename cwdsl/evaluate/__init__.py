"""Scoring schedules on labeled video: labeled folders (``datasets``), the paper's protocols
(``protocol``), synthetic pan/zoom/rotation clips with labels (``motionclip``), ``eval``
(``evaluation``), ``sweep`` (with ``sweepplot``, and ``tuning``: θ chosen on one set and
reported on another) and ``layers``.

Over 1,500 lines because every way of scoring a schedule goes through one data path here (the
labeled clips, the executor's scores, the sweep over θ and its tune/report split), and each
module is a step of it that the others call; split into packages, ``sweep`` and ``tuning``
would import across them both ways."""
