"""Generators of synthetic data sets with known ground truth, and loaders of shipped ones."""
