"""PyTorch backend: surrogate spike functions and spiking layers."""
