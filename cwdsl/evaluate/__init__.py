"""Scoring schedules on labeled video: metrics, labeled folders, the paper's protocols, eval,
sweep, layers and training."""
