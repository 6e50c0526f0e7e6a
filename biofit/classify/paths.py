r"""The three training paths of `SNNLZCClassifier`: what is learned, by which rule, and its outputs.

Input spikes ``[n, C, T]`` (bins of ``dt``) drive a hidden layer of ``n_hidden`` spiking neurons
(`biofit.classify.networks`). Each path ends in *output spike trains* ``bool[n, K, T]``, the
trains the decision (`biofit.classify.decision`) reads:

* ``"backprop"``: input -> hidden -> output layer of K = n_classes neurons of the same kind, end
  to end by surrogate-gradient BPTT (`biofit.learning.bptt.fit`: Adam, step
  ``learning_rate``, cross-entropy of the output spike counts, early stopping on a validation
  split); the weights of both projections and, with ``learn_intrinsic``, the intrinsic
  parameters of both layers (step ``intrinsic_learning_rate``). Output trains: the output
  layer's spikes.
* ``"stdp"``: the input -> hidden weights, ``W`` in [0, 1] (initially uniform), learn without
  labels by pair STDP (`biofit.learning.stdp.stdp_step`, Song et al. 2000 window, A+ = ``learning_rate``,
  A- = 1.05 A+), mini-batch by mini-batch: the hidden spikes of a batch are simulated with the
  current weights, the rule runs over the batch's rasters (its changes summed over the batch),
  then each hidden neuron's weights are scaled back to their initial sum and clipped to [0, 1]
  (synaptic scaling, as in Diehl & Cook 2015, Front. Comput. Neurosci. 9:99; without it STDP
  runs away). ``n_epochs`` passes. Output trains: the hidden layer's spikes (K = n_hidden).
* ``"tempotron"``: fixed random input -> hidden weights ``N(1, 1)``; one tempotron per class
  (`biofit.learning.Tempotron`, one-vs-rest, a single unit for two classes; step
  ``learning_rate``, ``10 n_epochs`` epochs) learns from the hidden spikes. Output trains: the
  upward crossings of the threshold by each tempotron unit's potential, unshunted
  (`biofit.learning.tempotron.potentials`): a unit fires for a pattern iff its train is not empty,
  which is the tempotron's own decision.

Intrinsic parameters in the local paths (``learn_intrinsic``): with the synaptic weights held at
what the local rule (or the random draw) gave, the hidden layer's intrinsic parameters learn by
surrogate-gradient BPTT through an auxiliary linear readout of the hidden spike counts (Adam,
``intrinsic_learning_rate``, ``n_epochs``, early stopping), the auxiliary readout is then
discarded. In the STDP path this follows the STDP phase; in the tempotron path it precedes the
tempotron's training. Fixed intrinsic parameters keep the model's defaults.

Scales: every projection's current scale is set by `biofit.classify.networks.calibrate`
(mean current ``input_gain`` times the rheobase) before training.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from biofit.classify.networks import calibrate, spiking_layer, time_major
from biofit.learning.bptt import SpikeCountReadout, SpikingNetwork, fit, resolve_device
from biofit.learning.stdp import STDPParams, init_state, stdp_step
from biofit.learning.tempotron import Tempotron, pattern_events, potentials
from biofit.validation import numpy_generator, torch_generator

TRAININGS = ("backprop", "stdp", "tempotron")  # the keys of PATHS
DEFAULT_LEARNING_RATE = {"backprop": 0.1, "stdp": 1e-3, "tempotron": 1e-3}
TEMPOTRON_EPOCHS_PER_EPOCH = 10
AUXILIARY_LEARNING_RATE = 0.1  # Adam's step for the auxiliary readout of the local paths


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated hyper-parameters a path reads (see `SNNLZCClassifier` for each)."""

    neuron: str
    learn_intrinsic: bool
    n_hidden: int
    dt: float
    learning_rate: float
    intrinsic_learning_rate: float
    n_epochs: int
    batch_size: int
    validation_fraction: float
    patience: int | None
    input_gain: float
    surrogate_width: float
    seed: object
    device: object
    progress: bool


class TrainedSNN:
    """A trained network, the tempotron reading it (tempotron path) and how to get its spikes."""

    def __init__(self, network: SpikingNetwork, settings: Settings, tempotron: Tempotron | None = None,
                 history: dict | None = None):
        self.network, self.settings, self.tempotron = network, settings, tempotron
        self.history = history or {}

    def __getstate__(self) -> dict:
        # The layers hold their generated step functions, which do not pickle: store what rebuilds them.
        state = dict(self.__dict__)
        net = state.pop("network")
        state["network_state"] = dict(
            n_inputs=net.n_inputs, sizes=[layer.n_neurons for layer in net.layers],
            tensors={k: v.cpu() for k, v in net.state_dict().items()},
            generators=[layer.generator.get_state() for layer in net.layers])
        return state

    def __setstate__(self, state: dict) -> None:
        saved = state.pop("network_state")
        self.__dict__.update(state)
        self.network = make_network(self.settings, saved["n_inputs"], saved["sizes"], 0, [0] * len(saved["sizes"]))
        self.network.load_state_dict(saved["tensors"])
        for layer, generator in zip(self.network.layers, saved["generators"]):
            layer.generator.set_state(generator)

    def layer_spikes(self, arr: np.ndarray) -> list[np.ndarray]:
        """Spikes of every layer, ``bool[n, N_l, T]`` each, in eval mode (meta: thresholded)."""
        device, step = self.network.scales.device, self.settings.batch_size
        self.network.eval()
        chunks = []
        with torch.no_grad():
            for i in range(0, arr.shape[0], step):
                out = self.network.run(time_major(arr[i:i + step]).to(device))
                chunks.append([z.cpu().numpy().transpose(1, 2, 0) > 0 for z in out])
        return [np.concatenate(parts) for parts in zip(*chunks)]

    def output_trains(self, arr: np.ndarray) -> np.ndarray:
        """The output spike trains ``bool[n, K, T]`` of the module docstring."""
        last = self.layer_spikes(arr)[-1]
        return last if self.tempotron is None else tempotron_trains(self.tempotron, last)

    def intrinsic(self) -> list[dict[str, np.ndarray]]:
        """Per layer, the learned intrinsic parameters' values (SI, one per neuron)."""
        return [{name: value.detach().cpu().numpy() for name, value in layer.intrinsic().items()
                 if name in layer.params.learned} for layer in self.network.layers]


def tempotron_trains(tempotron: Tempotron, hidden: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``bool[n, n_units, T]``: bins where a tempotron unit's unshunted potential crosses θ upwards."""
    out = []
    for i in range(0, hidden.shape[0], chunk):
        events = pattern_events(hidden[i:i + chunk].astype(np.uint8), tempotron.dt, None, tempotron.tau)
        v = potentials(events, tempotron.coef_, tempotron.dt, tempotron.tau, tempotron.tau_syn, tempotron.v_rest)
        above = v >= tempotron.threshold
        up = above & ~np.concatenate([np.zeros_like(above[..., :1]), above[..., :-1]], axis=-1)
        out.append(up.transpose(1, 0, 2))
    return np.concatenate(out)


def stdp_batch(pre, post, w, rule: STDPParams, dt: float):
    """``w`` after pair STDP over the rasters ``pre[T, B, N_pre]``, ``post[T, B, N_post]`` (the
    batch's changes summed at every step): `biofit.learning.stdp.stdp_step` bin by bin, which on
    rasters this short is faster than `biofit.learning.STDP.run`."""
    state = init_state(pre.shape[1], pre.shape[2], post.shape[2], w.dtype, w.device)
    for t in range(pre.shape[0]):
        w, state = stdp_step(pre[t].to(w.dtype), post[t].to(w.dtype), state, w, rule, dt)
    return w


def _seeds(seed) -> list[int]:
    return [int(s) for s in numpy_generator(seed).integers(0, 2**31 - 1, 5)]


def _fit(model, X, y, s: Settings, learning_rate: float, seed: int, what: str):
    return fit(model, X, torch.as_tensor(y), validation_fraction=s.validation_fraction, n_epochs=s.n_epochs,
               batch_size=s.batch_size, learning_rate=learning_rate, intrinsic_learning_rate=s.intrinsic_learning_rate,
               patience=s.patience, seed=seed, device=s.device, progress=s.progress, description=what)


def make_network(s: Settings, n_inputs: int, sizes, seed, layer_seeds, init_mean: float = 1.0) -> SpikingNetwork:
    """Layers of ``sizes`` neurons of kind ``s.neuron`` (noise seeds ``layer_seeds``), weights
    ``N(init_mean, 1)`` drawn from ``seed``, scales 1 (set by `calibrate`)."""
    layers = [spiking_layer(s.neuron, n, s.dt, s.learn_intrinsic, s.surrogate_width, layer_seed)
              for n, layer_seed in zip(sizes, layer_seeds)]
    return SpikingNetwork(n_inputs, layers, scales=[1.0] * len(layers), init_mean=init_mean, init_std=1.0, seed=seed)


def _learn_intrinsic(net: SpikingNetwork, X, y, n_classes: int, s: Settings, seeds) -> dict:
    """BPTT of the intrinsic parameters through an auxiliary count readout, weights frozen."""
    for w in net.weights:
        w.requires_grad_(False)
    model = torch.nn.Sequential(net, SpikeCountReadout(net.layers[-1].n_neurons, n_classes, seed=seeds[3]))
    history = _fit(model, X, y, s, AUXILIARY_LEARNING_RATE, seeds[2], f"{s.neuron} intrinsic")
    for w in net.weights:
        w.requires_grad_(True)
    return {"intrinsic": history}


def train_backprop(arr, y, n_classes: int, s: Settings) -> TrainedSNN:
    seeds, X = _seeds(s.seed), time_major(arr)
    net = make_network(s, arr.shape[1], (s.n_hidden, n_classes), seeds[0], (seeds[1], seeds[3]))
    calibrate(net, X, s.input_gain, 1.0)
    history = _fit(torch.nn.Sequential(net, SpikeCountReadout()), X, y, s, s.learning_rate, seeds[2],
                   f"{s.neuron} backprop")
    return TrainedSNN(net, s, history={"backprop": history})


def train_stdp(arr, y, n_classes: int, s: Settings) -> TrainedSNN:
    seeds, X = _seeds(s.seed), time_major(arr)
    net = make_network(s, arr.shape[1], (s.n_hidden,), seeds[0], (seeds[1],), init_mean=0.5)
    with torch.no_grad():
        net.weights[0].copy_(torch.rand(net.weights[0].shape, generator=torch_generator(seeds[0])))
    calibrate(net, X, s.input_gain, 0.5)
    device = resolve_device(s.device)
    net.to(device)
    rule = STDPParams(a_plus=s.learning_rate, a_minus=1.05 * s.learning_rate)
    w = net.weights[0].detach().clone()
    total = w.sum(0)
    order = torch_generator(seeds[4])
    change = []
    with torch.no_grad():
        for _ in range(s.n_epochs):
            before = w.clone()
            for batch in torch.randperm(X.shape[1], generator=order).split(s.batch_size):
                net.weights[0].copy_(w)
                w = stdp_batch(X[:, batch].to(device), net.stage(0, X[:, batch].to(device)), w, rule, s.dt)
                w = (w * total / w.sum(0).clamp_min(1e-12)).clamp(0.0, 1.0)
            change.append(float((w - before).abs().mean()))
        net.weights[0].copy_(w)
    history = {"stdp_mean_abs_change": change}
    if s.learn_intrinsic:
        history.update(_learn_intrinsic(net, X, y, n_classes, s, seeds))
    return TrainedSNN(net, s, history=history)


def train_tempotron(arr, y, n_classes: int, s: Settings) -> TrainedSNN:
    seeds, X = _seeds(s.seed), time_major(arr)
    net = make_network(s, arr.shape[1], (s.n_hidden,), seeds[0], (seeds[1],))
    calibrate(net, X, s.input_gain, 1.0)
    history = _learn_intrinsic(net, X, y, n_classes, s, seeds) if s.learn_intrinsic else {}
    snn = TrainedSNN(net, s, history=history)
    hidden = snn.layer_spikes(arr)[0]
    snn.tempotron = Tempotron(learning_rate=s.learning_rate, n_epochs=TEMPOTRON_EPOCHS_PER_EPOCH * s.n_epochs,
                              batch_size=s.batch_size, dt=s.dt, seed=seeds[4], progress=s.progress)
    snn.tempotron.fit(hidden.astype(np.uint8), y)
    snn.history["tempotron_errors"] = list(snn.tempotron.errors_)
    return snn


PATHS = {"backprop": train_backprop, "stdp": train_stdp, "tempotron": train_tempotron}
