"""The compiled form of a schedule: the typed graph (`Program`), the planner's frame plans,
clock traces, and their text and picture renderings."""
