"""Recordings and their loaders/writers."""
