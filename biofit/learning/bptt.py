r"""Surrogate-gradient training (backpropagation through time) of spiking networks.

Two parts, usable apart:

* `SpikingNetwork`: a feed-forward stack ``spikes[T, B, N_0] -> (projection -> spiking layer)
  x L``. Layer l receives the current :math:`I_l(t) = s_l\, z_{l-1}(t)\, W_l` (A) from the spikes
  :math:`z_{l-1}` of the layer below, with dimensionless weights ``W_l: [N_{l-1}, N_l]`` (learned)
  and a fixed scale :math:`s_l` (A per unit weight and spike; the buffer ``scales[l]``), so Adam's
  steps act on numbers of order 1 whatever the SI magnitude of the current. The layers are any
  ``current[T, B, N] -> spikes[T, B, N]`` modules with an ``n_neurons`` attribute, typically
  `biofit.neurons.build_layer` layers, whose learnable intrinsic parameters (``learn=(...)``)
  train with the weights. `SpikeCountReadout` turns the last layer's spikes into logits.
* `fit`: Adam (or plain SGD, with an optional step decay of the rate) on mini-batches, a
  validation split with early stopping (the state of the epoch with the lowest validation loss
  is restored), a tqdm bar showing loss and accuracy, CPU or CUDA (``device="cuda"`` falls back
  to the CPU with a warning where CUDA is absent), optionally the gradient norm of every
  parameter at every step. Returns a `History`.

The gradient through each spike is the layer's surrogate (Zenke & Ganguli 2018, SuperSpike;
Neftci, Mostafa & Zenke 2019, IEEE Signal Process. Mag. 36:51); BPTT is torch's autograd through
the unrolled time loop. Seeds: the initial weights and the mini-batch order come from ``seed``
(equal seeds, equal bits on the CPU); a stochastic layer's noise comes from its own ``seed``.

Example
-------
>>> import torch
>>> from biofit.neurons import LIF
>>> g = torch.Generator().manual_seed(0)
>>> x = (torch.rand(50, 40, 8, generator=g) < 0.2).float()   # [T, n_samples, N_in] spikes
>>> y = (x[:, :, :4].sum((0, 2)) > x[:, :, 4:].sum((0, 2))).long()
>>> net = SpikingNetwork(8, [LIF(2, dt=1e-3, learn=("v_th",))], scales=[2e-9], seed=0)
>>> model = torch.nn.Sequential(net, SpikeCountReadout())
>>> history = fit(model, x, y, n_epochs=3, batch_size=20, learning_rate=0.05, seed=0, progress=False)
>>> len(history.train_loss), history.best_epoch
(3, 2)
"""

from __future__ import annotations

import copy
import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from biofit.neurons.params import IntrinsicParameters
from biofit.validation import check_nonnegative, check_positive, check_positive_int, torch_generator


class SpikingNetwork(nn.Module):
    """Feed-forward spiking network: ``forward(spikes[T, B, n_inputs]) -> spikes[T, B, N_L]``.

    Parameters
    ----------
    n_inputs: N_0, the input channels.
    layers: the spiking layers, bottom to top (each with ``n_neurons``).
    scales: A per unit weight and input spike, one per layer (buffers; settable later).
    init_mean, init_std: initial weights ``W_l ~ N(init_mean, init_std^2)`` (dimensionless).
    seed: int, numpy or torch Generator for the initial weights.

    ``run(x)`` returns the spikes of every layer.
    """

    def __init__(self, n_inputs: int, layers: Sequence[nn.Module], scales: Sequence[float],
                 init_mean: float = 0.0, init_std: float = 1.0, seed=None) -> None:
        super().__init__()
        n_inputs = check_positive_int(n_inputs, "n_inputs")
        if len(layers) == 0 or len(scales) != len(layers):
            raise ValueError(f"need at least one layer and one scale per layer; got {len(layers)} "
                             f"layers and {len(scales)} scales")
        self.layers = nn.ModuleList(layers)
        sizes = [n_inputs] + [int(layer.n_neurons) for layer in layers]
        generator = torch_generator(seed)
        init_std = check_nonnegative(init_std, "init_std")
        self.weights = nn.ParameterList(
            nn.Parameter(init_mean + init_std * torch.randn(n_in, n_out, generator=generator))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])
        )
        self.register_buffer("scales", torch.tensor([check_positive(s, "scale") for s in scales],
                                                    dtype=torch.float64))
        self.n_inputs = n_inputs

    def run(self, x: Tensor) -> list[Tensor]:
        """Spikes of every layer, ``[T, B, N_l]`` for l = 1..L, for input spikes ``x[T, B, N_0]``."""
        if x.dim() != 3 or x.shape[2] != self.n_inputs:
            raise ValueError(f"input must be spikes [T, B, {self.n_inputs}], got shape {tuple(x.shape)}")
        out = []
        for l in range(len(self.layers)):
            x = self.stage(l, x)
            out.append(x)
        return out

    def stage(self, l: int, x: Tensor) -> Tensor:
        """Spikes ``[T, B, N_l]`` of layer ``l`` (0-based) for the spikes ``x`` of the layer below."""
        return self.layers[l]((x @ self.weights[l].to(x.dtype)) * self.scales[l].to(x.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return self.run(x)[-1]


class SpikeCountReadout(nn.Module):
    """Logits from spike counts: ``counts[B, N] = sum_t spikes[t]``, then ``counts @ W + b``
    (``n_outputs`` given: a learned linear map from N inputs, ``W ~ N(0, 1/N)`` drawn from
    ``seed``, ``b = 0``) or the counts themselves (None: one spiking neuron per class, the
    count cross-entropy of e.g. Zenke & Vogels 2021, Neural Comput. 33:899)."""

    def __init__(self, n_inputs: int | None = None, n_outputs: int | None = None, seed=None) -> None:
        super().__init__()
        if (n_inputs is None) != (n_outputs is None):
            raise ValueError("give both n_inputs and n_outputs (linear readout) or neither (counts)")
        self.weight = self.bias = None
        if n_outputs is not None:
            n_inputs, n_outputs = check_positive_int(n_inputs, "n_inputs"), check_positive_int(n_outputs, "n_outputs")
            draw = torch.randn(n_inputs, n_outputs, generator=torch_generator(seed))
            self.weight = nn.Parameter(draw / n_inputs**0.5)
            self.bias = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, spikes: Tensor) -> Tensor:
        counts = spikes.sum(0)
        return counts if self.weight is None else counts.to(self.weight.dtype) @ self.weight + self.bias


@dataclasses.dataclass
class History:
    """Per-epoch ``train_loss``, ``train_accuracy`` (of the training mini-batches as they were
    seen), ``val_loss``, ``val_accuracy`` (empty without validation data), ``best_epoch`` (0-based
    epoch whose state the model holds), ``stopped_early`` and ``wall_time`` (s). ``grad_norms``
    (only with ``fit(record_grad_norms=True)``): parameter name (``model.named_parameters()``) ->
    the L2 norm of its gradient at every training step, before clipping."""

    train_loss: list = dataclasses.field(default_factory=list)
    train_accuracy: list = dataclasses.field(default_factory=list)
    val_loss: list = dataclasses.field(default_factory=list)
    val_accuracy: list = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    wall_time: float = 0.0
    grad_norms: dict = dataclasses.field(default_factory=dict)


def resolve_device(device) -> torch.device:
    """``torch.device`` for ``device`` (None: CPU); a CUDA request without CUDA warns and gives the CPU."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn("CUDA is not available; running on the CPU", RuntimeWarning, stacklevel=3)
        return torch.device("cpu")
    return device


def intrinsic_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The learnable intrinsic parameters of every `biofit.neurons` layer inside ``model``."""
    return [p for m in model.modules() if isinstance(m, IntrinsicParameters) for p in m.parameters()]


def _check_data(X: Tensor, y: Tensor, name: str) -> tuple[Tensor, Tensor]:
    if not isinstance(X, Tensor) or X.dim() != 3:
        raise ValueError(f"{name} must be a tensor [T, n_samples, N], got "
                         f"{tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__}")
    y = torch.as_tensor(y)
    if y.dim() != 1 or y.shape[0] != X.shape[1] or y.dtype.is_floating_point:
        raise ValueError(f"labels for {name} must be integers [n_samples = {X.shape[1]}], got "
                         f"{y.dtype} of shape {tuple(y.shape)}")
    return X, y


def batched_outputs(model: nn.Module, X: Tensor, batch_size: int, device=None) -> Tensor:
    """``model(X[:, batch])`` for consecutive batches, in eval mode and without gradients,
    concatenated along the batch dimension (dim 1 of ``[T, B, N]`` outputs, dim 0 otherwise)."""
    device = resolve_device(device) if device is not None else X.device
    was_training = model.training
    model.eval()
    outs = []
    with torch.no_grad():
        for start in range(0, X.shape[1], batch_size):
            outs.append(model(X[:, start:start + batch_size].to(device)).cpu())
    model.train(was_training)
    return torch.cat(outs, dim=1 if outs[0].dim() == 3 else 0)


def _split(n: int, fraction: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    order = torch.randperm(n, generator=generator)
    n_val = int(round(fraction * n))
    if fraction > 0 and not 0 < n_val < n:
        raise ValueError(f"validation_fraction = {fraction} of {n} samples leaves an empty split")
    return order[n_val:], order[:n_val]


def as_tensors(dataset) -> tuple[Tensor, Tensor]:
    """``(X[T, n, N], y[n])`` from a sequence / `torch.utils.data.Dataset` of ``(x[T, N], label)``
    pairs, stacked along the batch dimension (the whole set is held in memory)."""
    pairs = [dataset[i] for i in range(len(dataset))]
    if not pairs:
        raise ValueError("the dataset is empty")
    return torch.stack([torch.as_tensor(x) for x, _ in pairs], 1), torch.as_tensor([int(t) for _, t in pairs])


OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def _optimizer(model: nn.Module, learning_rate, intrinsic_learning_rate, weight_decay,
               kind: str = "adam") -> torch.optim.Optimizer:
    """Adam or SGD (`OPTIMIZERS`) over the trainable parameters: the intrinsic ones in a group of their own."""
    if kind not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {kind!r}; expected one of {tuple(OPTIMIZERS)}")
    intrinsic = {id(p) for p in intrinsic_parameters(model)}
    trained = [p for p in model.parameters() if p.requires_grad]  # frozen ones stay as they are
    groups = [{"params": [p for p in trained if id(p) not in intrinsic],
               "lr": check_positive(learning_rate, "learning_rate")},
              {"params": [p for p in trained if id(p) in intrinsic],
               "lr": learning_rate if intrinsic_learning_rate is None
               else check_positive(intrinsic_learning_rate, "intrinsic_learning_rate")}]
    return OPTIMIZERS[kind]([g for g in groups if g["params"]], lr=learning_rate, weight_decay=weight_decay)


def _record_grad_norms(model: nn.Module, log: dict) -> None:
    """Append the L2 norm of each parameter's gradient (0 where it has none) to ``log[name]``."""
    for name, p in model.named_parameters():
        if p.requires_grad:
            log.setdefault(name, []).append(0.0 if p.grad is None else float(p.grad.detach().norm()))


def _train_epoch(model, X, y, order: Tensor, batch_size: int, loss, optimizer, clip_grad_norm, device,
                 grad_log: dict | None = None):
    """One pass over the samples ``order`` in mini-batches; returns (mean loss, accuracy).
    ``grad_log``: a dict that `_record_grad_norms` fills at every step (None: not recorded)."""
    model.train()
    total, correct = 0.0, 0
    for batch in order.split(batch_size):
        xb, yb = X[:, batch].to(device), y[batch].to(device)
        logits = model(xb)
        value = loss(logits, yb)
        optimizer.zero_grad()
        value.backward()
        if grad_log is not None:
            _record_grad_norms(model, grad_log)
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        total += float(value.detach()) * batch.numel()
        correct += int((logits.argmax(1) == yb).sum())
    return total / order.numel(), correct / order.numel()


def fit(model: nn.Module, X, y=None, *, validation: tuple | None = None, validation_fraction: float = 0.0,
        loss: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy, n_epochs: int = 20,
        batch_size: int = 32, learning_rate: float = 1e-3, intrinsic_learning_rate: float | None = None,
        weight_decay: float = 0.0, patience: int | None = None, clip_grad_norm: float | None = None,
        seed=0, device=None, progress: bool = True, description: str = "bptt", optimizer: str = "adam",
        lr_step: tuple[int, float] | None = None, record_grad_norms: bool = False) -> History:
    """Train ``model`` (``X[T, B, N] -> logits[B, C]``) on spikes ``X: float[T, n_samples, N]`` and
    integer labels ``y: [n_samples]`` with Adam (or SGD); returns a `History`.

    ``X`` may instead be a dataset of ``(x[T, N], label)`` pairs, with ``y`` None (`as_tensors`);
    ``validation``: ``(X_val, y_val)``, or a random ``validation_fraction`` of ``X`` held out
    (0: no validation, no early stopping, the last epoch's state is kept). ``patience``: stop
    after that many epochs without a lower validation loss (None: run every epoch); the best
    epoch's state is restored either way. ``intrinsic_learning_rate``: Adam's step for the
    intrinsic parameters (`intrinsic_parameters`; default ``learning_rate``). ``loss(logits, y)``:
    default cross-entropy. Parameters with ``requires_grad=False`` are not trained. ``device``:
    where to train (the model is moved there; batches are moved one at a time). ``seed`` draws
    the split and the mini-batch order. ``optimizer``: ``"adam"`` or ``"sgd"`` (plain SGD, no
    momentum); ``lr_step``: ``(step_size, gamma)``, every learning rate multiplied by ``gamma``
    after each ``step_size`` epochs (torch's ``StepLR``; None: constant). ``record_grad_norms``:
    fill ``History.grad_norms``.
    """
    if y is None and not isinstance(X, Tensor):
        X, y = as_tensors(X)
    X, y = _check_data(X, y, "X")
    n_epochs, batch_size = check_positive_int(n_epochs, "n_epochs"), check_positive_int(batch_size, "batch_size")
    fraction = float(validation_fraction)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation_fraction must lie in [0, 1), got {validation_fraction!r}")
    if patience is not None:
        patience = check_positive_int(patience, "patience")
    if lr_step is not None:
        lr_step = (check_positive_int(lr_step[0], "lr_step step_size"), check_positive(lr_step[1], "lr_step gamma"))
    device = resolve_device(device)
    generator = torch_generator(seed)
    if validation is not None:
        X_val, y_val = _check_data(*validation, "validation")
        train_idx = torch.arange(X.shape[1])
    else:
        train_idx, val_idx = _split(X.shape[1], fraction, generator)
        X_val, y_val = (X[:, val_idx], y[val_idx]) if val_idx.numel() else (None, None)
    model.to(device)
    optimizer = _optimizer(model, learning_rate, intrinsic_learning_rate, weight_decay, optimizer)
    schedule = None if lr_step is None else torch.optim.lr_scheduler.StepLR(optimizer, *lr_step)
    history, best, best_loss, waited = History(), None, float("inf"), 0
    start = time.perf_counter()
    from tqdm.auto import tqdm

    bar = tqdm(range(n_epochs), desc=description, disable=not progress, leave=False)
    for epoch in bar:
        order = train_idx[torch.randperm(train_idx.numel(), generator=generator)]
        train_loss, train_acc = _train_epoch(model, X, y, order, batch_size, loss, optimizer, clip_grad_norm, device,
                                             history.grad_norms if record_grad_norms else None)
        if schedule is not None:
            schedule.step()
        history.train_loss.append(train_loss)
        history.train_accuracy.append(train_acc)
        postfix = {"loss": f"{train_loss:.3f}", "acc": f"{train_acc:.3f}"}
        if X_val is not None:
            logits = batched_outputs(model, X_val, batch_size, device)
            val_loss = float(loss(logits, y_val))
            history.val_loss.append(val_loss)
            history.val_accuracy.append(float((logits.argmax(1) == y_val).float().mean()))
            postfix.update(val_loss=f"{val_loss:.3f}", val_acc=f"{history.val_accuracy[-1]:.3f}")
            if val_loss < best_loss:
                best, best_loss, waited, history.best_epoch = copy.deepcopy(model.state_dict()), val_loss, 0, epoch
            else:
                waited += 1
        else:
            history.best_epoch = epoch
        bar.set_postfix(postfix)
        if patience is not None and waited >= patience:
            history.stopped_early = True
            break
    bar.close()
    if best is not None:
        model.load_state_dict(best)
    history.wall_time = time.perf_counter() - start
    return history
