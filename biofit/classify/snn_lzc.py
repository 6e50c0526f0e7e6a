r"""`SNNLZCClassifier`: spiking network -> output spike trains -> Lempel-Ziv complexity -> decision.

The classifier of 2508.11674's second contribution (an SNN combined with LZC), with its first
one as a switch (``learn_intrinsic``: the neurons' intrinsic parameters learned with the
weights). The paper publishes no code; every choice below is ours and documented where it is
made:

1. input spikes ``X: 0/1 [n_samples, n_channels, n_bins]`` (bins of ``dt`` s; ``[n_samples,
   n_bins]`` is one channel) drive a hidden layer of ``n_hidden`` neurons of kind ``neuron``
   (``"lif"`` or ``"meta"``, `biofit.classify.networks`);
2. the network is trained by ``training`` (``"backprop"``, ``"stdp"``, ``"tempotron"``; what
   each learns, and how the intrinsic parameters learn in each, is in `biofit.classify.paths`);
3. its output spike trains go through the normalised LZ76 complexity and ``decision``:
   ``"lzc"``, the nearest class-typical LZC (a diagonal-Gaussian nearest-centroid rule, exactly
   as written in `biofit.classify.decision`), or ``"readout"``, a logistic regression on the LZC
   and rate of every output train. Both give ``predict_proba``.

scikit-learn's ``check_estimator`` passes except the checks of
`biofit.classify.inputs.EXPECTED_FAILED_CHECKS` (they feed continuous data, which a classifier of
spike rasters must reject); on sklearn's data thresholded to 0/1 every check passes but
``check_classifiers_train`` (`biofit.classify.inputs.BINARY_DATA_FAILED_CHECKS`, with the reason).

Predictions run the network in eval mode (the meta neuron's deterministic threshold), so they
are deterministic. ``seed`` fixes everything random (weights, noise, split, batch order): equal
seeds give equal predictions on the CPU.

Example
-------
>>> from biofit.datasets.source_tasks import source_task
>>> X, y = source_task(n_per_class=20, n_channels=4, n_bins=100, kinds=("bernoulli", "markov"), seed=0)
>>> clf = SNNLZCClassifier(n_hidden=8, n_epochs=2, seed=0).fit(X[:30], y[:30])
>>> clf.classes_.tolist(), clf.predict_proba(X[30:]).shape
([0, 1], (10, 2))
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from biofit.classify.decision import DECISIONS, decision_inputs, make_decision, train_features
from biofit.classify.inputs import check_fitted_layout, check_labels, record_layout
from biofit.classify.networks import NEURONS
from biofit.classify.paths import DEFAULT_LEARNING_RATE, PATHS, TRAININGS, Settings
from biofit.encoding.features import check_raster
from biofit.validation import check_bool, check_dt, check_positive, check_positive_int

def _choice(value, name: str, allowed: tuple) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
    return value


class SNNLZCClassifier(ClassifierMixin, BaseEstimator):
    """Spiking network + Lempel-Ziv complexity classifier of spike rasters (module docstring).

    Parameters
    ----------
    neuron : "lif" | "meta"
    training : "backprop" | "stdp" | "tempotron" (`biofit.classify.paths`)
    learn_intrinsic : learn the neurons' intrinsic parameters (`biofit.classify.networks.INTRINSIC`)
    decision : "lzc" (nearest class-typical LZC) | "readout" (logistic regression on LZC and rates)
    n_hidden : hidden neurons
    dt : bin width of the rasters and time step of the neurons, s
    learning_rate : backprop: Adam's step; stdp: A+; tempotron: λ (None: 1e-2, 1e-3, 1e-2)
    intrinsic_learning_rate : Adam's step for the intrinsic parameters
    n_epochs, batch_size : passes over the training set and samples per update
    validation_fraction, patience : held-out share of the training set for early stopping of
        the gradient phases (0: none) and the epochs without improvement before stopping
    input_gain : mean input current of every layer, in rheobases (`biofit.classify.networks`)
    surrogate_width : width of the surrogate gradient, V
    variant : "lz76" | "lz78", the LZ variant of the decision
    seed : int or numpy Generator; device : "cpu" | "cuda" (CPU fallback); progress : tqdm bars

    Attributes: ``classes_``, ``n_features_in_``, ``n_channels_in_``, ``n_bins_in_``, ``snn_``
    (`biofit.classify.paths.TrainedSNN`: network, tempotron, histories), ``decision_``.
    """

    def __init__(self, neuron="lif", training="backprop", learn_intrinsic=True, decision="lzc", n_hidden=64,
                 dt=1e-3, learning_rate=None, intrinsic_learning_rate=1e-2, n_epochs=20, batch_size=32,
                 validation_fraction=0.1, patience=5, input_gain=1.5, surrogate_width=5e-3, variant="lz76",
                 seed=0, device="cpu", progress=False):
        self.neuron, self.training, self.learn_intrinsic, self.decision = neuron, training, learn_intrinsic, decision
        self.n_hidden, self.dt, self.learning_rate = n_hidden, dt, learning_rate
        self.intrinsic_learning_rate, self.n_epochs, self.batch_size = intrinsic_learning_rate, n_epochs, batch_size
        self.validation_fraction, self.patience, self.input_gain = validation_fraction, patience, input_gain
        self.surrogate_width, self.variant, self.seed = surrogate_width, variant, seed
        self.device, self.progress = device, progress

    def _settings(self, n_samples: int) -> Settings:
        training = _choice(self.training, "training", TRAININGS)
        lr = DEFAULT_LEARNING_RATE[training] if self.learning_rate is None else self.learning_rate
        fraction = float(self.validation_fraction)
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {self.validation_fraction!r}")
        if not 1 <= round(fraction * n_samples) < n_samples:
            fraction = 0.0  # too few samples to hold any out
        return Settings(
            neuron=_choice(self.neuron, "neuron", NEURONS),
            learn_intrinsic=check_bool(self.learn_intrinsic, "learn_intrinsic"),
            n_hidden=check_positive_int(self.n_hidden, "n_hidden"), dt=check_dt(self.dt),
            learning_rate=check_positive(lr, "learning_rate"),
            intrinsic_learning_rate=check_positive(self.intrinsic_learning_rate, "intrinsic_learning_rate"),
            n_epochs=check_positive_int(self.n_epochs, "n_epochs"),
            batch_size=check_positive_int(self.batch_size, "batch_size"), validation_fraction=fraction,
            patience=None if self.patience is None else check_positive_int(self.patience, "patience"),
            input_gain=check_positive(self.input_gain, "input_gain"),
            surrogate_width=check_positive(self.surrogate_width, "surrogate_width"),
            seed=self.seed, device=self.device, progress=bool(self.progress))

    def fit(self, X, y):
        """Train the network and the decision on rasters ``X`` and labels ``y``; returns self."""
        y = check_labels(y)  # before X: a single class or a continuous target is named as such
        arr = check_raster(X)
        y = check_labels(y, arr.shape[0])
        _choice(self.decision, "decision", DECISIONS)
        _choice(self.variant, "variant", ("lz76", "lz78"))
        settings = self._settings(arr.shape[0])
        record_layout(self, arr)
        self.classes_, index = np.unique(y, return_inverse=True)
        self.snn_ = PATHS[self.training](arr, index, self.classes_.size, settings)
        self.decision_ = make_decision(self.decision).fit(self._decision_inputs(arr), index)
        return self

    def _decision_inputs(self, arr: np.ndarray) -> np.ndarray:
        return decision_inputs(self.decision, *train_features(self.snn_.output_trains(arr), self.variant))

    def output_trains(self, X) -> np.ndarray:
        """The network's output spike trains ``bool[n_samples, K, n_bins]`` for rasters ``X``."""
        check_is_fitted(self, "snn_")
        return self.snn_.output_trains(check_fitted_layout(X, self))

    def spike_counts(self, X) -> np.ndarray:
        """Spikes emitted by all the network's layers per sample, ``int[n_samples]`` (energy proxy)."""
        check_is_fitted(self, "snn_")
        layers = self.snn_.layer_spikes(check_fitted_layout(X, self))
        return sum(z.sum(axis=(1, 2)) for z in layers)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``float[n_samples, n_classes]`` of the decision (columns: ``classes_``)."""
        check_is_fitted(self, "snn_")
        return self.decision_.predict_proba(self._decision_inputs(check_fitted_layout(X, self)))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each raster."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags
