"""Spike-train encoders: Poisson generation and Lempel-Ziv complexity features."""
