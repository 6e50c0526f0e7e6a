"""Fitting neuron models to recordings, and the spike-train / voltage metrics used to score fits."""
