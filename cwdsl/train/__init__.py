"""Training: networks from scratch on generated scenes or a labeled folder (``train``,
with ``augment``), and learned clocks (``clocktrain`` samples clips through the network,
``clockfit`` fits the model, ``motionclips`` makes clips from stills)."""
