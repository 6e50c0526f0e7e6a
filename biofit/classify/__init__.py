"""scikit-learn classifiers built on spiking networks and LZC features."""
