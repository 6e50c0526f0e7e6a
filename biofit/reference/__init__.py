"""Brian2 reference backend: simulate a model from biofit.models driven by a current or by spikes."""
