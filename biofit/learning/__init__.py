"""Learning rules: STDP, Tempotron, three-factor reward-modulated STDP, surrogate-gradient BPTT."""
