"""Scoring schedules on labeled video: labeled folders (``datasets``), the paper's protocols
(``protocol``), ``eval`` (``evaluation``), ``sweep`` (with ``sweepplot``) and ``layers``."""
