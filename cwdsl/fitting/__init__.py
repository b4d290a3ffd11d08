"""Device models fitted to measured profiles, and the choice of a device model: ``calibrate``
fits a roofline's efficiencies to profiles (and scores the fit on profiles left out);
``prediction`` predicts a whole profile for a size and dtype none measured; ``profileset``
prices with the exact profile or that prediction; ``identity`` says which device a profile
is of and which profiles go together; ``load`` turns ``--device`` into any device model."""
