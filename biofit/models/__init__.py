"""Neuron model definitions: parameters (name, default, bounds, unit, learnable) and Brian2 equations."""
