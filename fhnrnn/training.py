"""Seeded, deterministic training of the recurrent cells, with a checkpoint cache.

:func:`fit` trains an :class:`~fhnrnn.models.RNNCell` with Adam on the (optionally masked) mean
squared error of its outputs, clips the gradient norm, stops early once the epoch loss reaches a
target, and shows a progress bar. A sequence-length curriculum (warm-up stages on the first
time steps of every sequence) is available for long sequences. Instead of Adam, full-batch
L-BFGS (``optimizer="lbfgs"``) can be used, and a penalty on the spread of the hidden states
around their time average (``variance_penalty``) can be added to the objective.
Its settings are one validated :class:`~fhnrnn.fit_options.FitOptions` (a recipe is such a
value; its fields may also be given as keywords).

Trained weights are cached under :func:`fhnrnn._paths.cache_dir` in ``fit/<key>.safetensors``
(the ``state_dict`` and the loss history) and ``fit/<key>.json`` (metadata: the configuration,
training time, a SHA-256 of the tensor file; see :mod:`fhnrnn._store`). ``key`` is the SHA-256
of the full configuration: the model's class, its ``VERSION`` (bumped whenever the cell's
computation changes) and constructor settings, its initial parameters and buffers (bytes), the
inputs, targets, initial states and mask (bytes, dtypes, shapes), and every optimisation
setting, the thread count included. A rerun with the same configuration loads the weights
instead of training; any change retrains (the settings enter the key as
:meth:`FitOptions.description` gives them); an unreadable, corrupt or mismatched cache entry is
reported with a warning and retrained.

Training runs with a pinned number of torch threads (``threads``, 1 by default: reductions
split over another number of threads round differently) and with
``torch.use_deterministic_algorithms(True)``, so that it is bitwise repeatable on one machine.
It is not repeatable across machines whose CPUs run other vector kernels: the networks the
paper analyses are shipped instead (:mod:`fhnrnn.artifacts`).

:func:`evaluate` gives the per-condition mean squared error of a model.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fhnrnn._paths import cache_dir
from fhnrnn._progress import progress_bar
from fhnrnn._schema import Field
from fhnrnn._store import EntryError, load_state, pop_history, read_entry, write_entry
from fhnrnn._validation import finite_positive, non_negative_int, positive_int, real_tensor
from fhnrnn.fit_options import LBFGS_HISTORY, LBFGS_ITERATIONS, FitOptions
from fhnrnn.models import RNNCell

__all__ = [
    "DETERMINISTIC_ALGORITHMS",
    "FitOptions",
    "FitResult",
    "evaluate",
    "fit",
    "fit_windows",
    "state_spread",
]

CACHE_FORMAT = 2
# Training runs under torch.use_deterministic_algorithms(DETERMINISTIC_ALGORITHMS).
DETERMINISTIC_ALGORITHMS = True
COSINE_FLOOR = 0.01


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    model : RNNCell
        The trained model (the object passed to :func:`fit`), in eval mode.
    history : list of float, length ``epochs``
        Training loss of every epoch, curriculum stages included (see :func:`fit`).
    seconds : float
        Wall-clock training time; for a cache hit, the time of the run that filled the cache.
    epochs : int
        Number of epochs trained, curriculum stages included.
    from_cache : bool
        Whether the weights were loaded from the cache instead of trained.
    converged : bool
        Whether the last epoch's loss reached ``target_loss``.
    key : str
        SHA-256 of the configuration; names the cache files (for a shipped network, the
        recipe key of :mod:`fhnrnn.artifacts`).
    artifact : str or None
        Name of the shipped network the weights were loaded from, if any.
    """

    model: RNNCell
    history: list[float]
    seconds: float
    epochs: int
    from_cache: bool
    converged: bool
    key: str
    artifact: str | None = None


@dataclasses.dataclass(frozen=True)
class _Data:
    inputs: Tensor
    targets: Tensor
    x0: Tensor
    weights: Tensor | None


def _as_tensor(value: Any, name: str, reference: Tensor) -> Tensor:
    """``value`` as finite real numbers in the reference's dtype and device (any strides)."""
    tensor = real_tensor(value, name, reference.dtype, reference.device)
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite (it holds NaN or infinity)")
    return tensor


def _is_boolean(value: Any) -> bool:
    if isinstance(value, Tensor):
        return value.dtype == torch.bool
    return np.asarray(value).dtype == np.bool_


def _check_data(model: RNNCell, inputs: Any, targets: Any, x0: Any, mask: Any) -> _Data:
    """Validate and convert the data to the model's device and dtype."""
    if not isinstance(model, RNNCell):
        raise ValueError(f"model must be an fhnrnn.models.RNNCell, got {type(model).__name__}")
    reference = next(model.parameters())
    inputs = _as_tensor(inputs, "inputs", reference)
    targets = _as_tensor(targets, "targets", reference)
    if inputs.ndim != 3 or inputs.shape[-1] != model.input_size or inputs.shape[1] < 1:
        raise ValueError(
            f"inputs must have shape (B, T, m) with m = {model.input_size} and T >= 1, "
            f"got {tuple(inputs.shape)}"
        )
    if inputs.shape[0] < 1:
        raise ValueError(
            f"inputs must hold at least one sequence (B >= 1), got {tuple(inputs.shape)}"
        )
    batch, steps = inputs.shape[:2]
    if targets.shape != (batch, steps, model.output_size):
        raise ValueError(
            f"targets must have shape (B, T, p) = {(batch, steps, model.output_size)}, "
            f"got {tuple(targets.shape)}"
        )
    return _Data(
        inputs,
        targets,
        _check_x0(model, x0, batch, reference),
        _check_mask(mask, batch, steps, model.output_size, reference),
    )


def _check_x0(model: RNNCell, x0: Any, batch: int, reference: Tensor) -> Tensor:
    if x0 is None:
        return model.initial_state(batch).detach()
    x0 = _as_tensor(x0, "x0", reference)
    if x0.ndim == 1:
        x0 = x0.expand(batch, -1)
    if x0.shape != (batch, model.state_size):
        raise ValueError(
            f"x0 must have shape (d,) or (B, d) = {(batch, model.state_size)}, "
            f"got {tuple(x0.shape)}"
        )
    return x0.contiguous()


def _check_mask(
    mask: Any, batch: int, steps: int, outputs: int, reference: Tensor
) -> Tensor | None:
    if mask is None:
        return None
    if _is_boolean(mask):  # a boolean mask is a 0/1 weight
        mask = mask.double() if isinstance(mask, Tensor) else np.asarray(mask, dtype=np.float64)
    mask = _as_tensor(mask, "mask", reference)
    if mask.ndim == 2:
        mask = mask[..., None]
    if mask.ndim != 3 or mask.shape[:2] != (batch, steps) or mask.shape[2] not in (1, outputs):
        raise ValueError(
            f"mask must have shape (B, T) or (B, T, p) = {(batch, steps, outputs)}, "
            f"got {tuple(mask.shape)}"
        )
    if (mask < 0).any() or not (mask > 0).any():
        raise ValueError("mask must be non-negative with at least one positive entry")
    return mask.expand(batch, steps, outputs).contiguous()


def _check_mask_covers(weights: Tensor | None, n_steps: int) -> None:
    """Every sequence needs a positive weight within its first ``n_steps`` steps."""
    if weights is not None and not (weights[:, :n_steps].sum(dim=(1, 2)) > 0).all():
        raise ValueError(
            f"mask must give every sequence a positive weight within its first {n_steps} "
            "time steps (drop sequences that are masked out entirely)"
        )


def _check_mask_covers_stages(
    weights: Tensor | None, stages: list[tuple[int, int]], options: FitOptions
) -> None:
    """Every stage's prefix (and the ramp's first length) gives each sequence a weight."""
    for n_steps, _ in stages:
        _check_mask_covers(weights, n_steps)
    if options.length_ramp is not None:
        _check_mask_covers(weights, options.length_ramp[0])


def _squared_error(
    outputs: Tensor, targets: Tensor, weights: Tensor | None
) -> tuple[Tensor, Tensor]:
    """Per-sequence weighted sum of squared errors and weight total, each shape (B,)."""
    error = (outputs - targets).square()
    if weights is None:
        return error.sum(dim=(1, 2)), torch.full_like(error[:, 0, 0], error[0].numel())
    return (weights * error).sum(dim=(1, 2)), weights.sum(dim=(1, 2))


def evaluate(
    model: RNNCell,
    inputs: Any,
    targets: Any,
    x0: Any = None,
    mask: Any = None,
) -> np.ndarray:
    """Mean squared error of the model's outputs, one number per sequence (condition).

    Parameters
    ----------
    model : RNNCell
        The model; it is run without gradients and not modified.
    inputs : array-like, shape (B, T, m)
    targets : array-like, shape (B, T, p)
    x0 : array-like, shape (B, d) or (d,), optional
        Initial hidden states; zeros when omitted.
    mask : array-like, shape (B, T) or (B, T, p), optional
        Non-negative weights of the squared errors; every sequence needs a positive weight.

    Returns
    -------
    numpy.ndarray, shape (B,), float64
        Weighted mean squared error of each sequence.
    """
    data = _check_data(model, inputs, targets, x0, mask)
    _check_mask_covers(data.weights, data.inputs.shape[1])
    with torch.no_grad():
        _, outputs = model.rollout(data.inputs, data.x0)
        total, weight = _squared_error(outputs, data.targets, data.weights)
    return (total / weight).cpu().double().numpy()


def _tensor_bytes(tensor: Tensor) -> bytes:
    return tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _configuration_key(model: RNNCell, data: _Data, settings: dict[str, Any]) -> str:
    """SHA-256 over the description, the initial model state and the data."""
    description = {
        "format": CACHE_FORMAT,
        "model": f"{type(model).__module__}.{type(model).__qualname__}",
        "version": type(model).VERSION,
        "config": model.config(),
        "settings": settings,
    }
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode("utf-8"))
    named = [(f"state.{name}", value) for name, value in model.state_dict().items()]
    named += [("inputs", data.inputs), ("targets", data.targets), ("x0", data.x0)]
    if data.weights is not None:
        named.append(("mask", data.weights))
    for name, tensor in named:
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(_tensor_bytes(tensor))
    return digest.hexdigest()


# The metadata _store writes next to cached weights (read_entry adds sha256 and bytes).
_CACHE_SCHEMA = {
    "format": Field("int"),
    "key": Field("sha256"),
    "model": Field("str"),
    "config": Field("object"),
    "settings": Field("object"),
    "seconds": Field("seconds"),
    "sha256": Field("sha256"),
    "bytes": Field("count"),
}


def _cache_folder() -> Path:
    return cache_dir() / "fit"


def _load_cached(model: RNNCell, key: str) -> dict[str, Any] | None:
    """Load cached weights into ``model``; return the metadata (with the history), or None."""
    source = _cache_folder() / f"{key}.safetensors"
    try:
        entry = read_entry(_cache_folder(), key, {"key": key, "format": CACHE_FORMAT},
                           "the metadata belongs to another configuration", _CACHE_SCHEMA)
        if entry is None:
            return None
        tensors, meta = entry
        history = pop_history(tensors, source)
        load_state(model, tensors, source)
        return {**meta, "history": history}
    except EntryError as error:  # any unusable cache entry means: retrain
        warnings.warn(
            f"ignoring unusable training cache entry {key[:12]}: {error}; retraining",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _store(
    model: RNNCell, key: str, settings: dict[str, Any], history: list[float], seconds: float
) -> None:
    """Cache the trained weights, the loss history and the run's metadata under ``key``."""
    meta = {
        "format": CACHE_FORMAT,
        "key": key,
        "model": type(model).__qualname__,
        "config": model.config(),
        "settings": settings,
        "seconds": seconds,
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    tensors = dict(model.state_dict())
    tensors["history"] = torch.tensor(history, dtype=torch.float64)
    write_entry(_cache_folder(), key, tensors, meta)


def _cached_fit(
    model: RNNCell,
    key: str,
    settings: dict[str, Any],
    train: Callable[[], list[float]],
    *,
    cache: bool,
    target_loss: float | None,
) -> FitResult:
    """Load the weights cached under ``key`` into ``model``, or ``train()`` and cache them.

    ``train`` trains ``model`` in place and returns the loss history. The run converged when
    its last loss is at most ``target_loss`` (always, when ``target_loss`` is None).
    """
    meta = _load_cached(model, key) if cache else None
    if meta is not None:
        history, seconds = meta["history"], meta["seconds"]
    else:
        start = time.perf_counter()
        with _pinned_threads(settings["threads"]):
            history = train()
        seconds = time.perf_counter() - start
        if cache:
            _store(model, key, settings, history, seconds)
    model.eval()
    return FitResult(
        model=model,
        history=list(history),
        seconds=float(seconds),
        epochs=len(history),
        from_cache=meta is not None,
        converged=target_loss is None or history[-1] <= target_loss,
        key=key,
    )


def _learning_rate(
    lr: float, lr_end: float | None, schedule: str, epoch: int, total: int
) -> float:
    """Rate of ``epoch`` of ``total``: ``lr``, or a half cosine from ``lr`` to ``lr_end``."""
    if schedule == "constant" or total == 1:
        return lr
    end = lr * COSINE_FLOOR if lr_end is None else lr_end
    progress = epoch / (total - 1)
    return end + (lr - end) * 0.5 * (1 + math.cos(math.pi * progress))


def _batches(
    batch: int, batch_size: int | None, sampling: str, generator: torch.Generator
) -> list[Tensor]:
    if batch_size is None or batch_size >= batch:
        return [torch.arange(batch)]
    order = torch.randperm(batch, generator=generator)
    if sampling == "sample":
        return [order[:batch_size]]
    return list(order.split(batch_size))


def _ramp_length(
    ramp: tuple[int, float] | None, n_steps: int, epoch: int, n_epochs: int
) -> int:
    """Sequence length of ``epoch`` under a linear ramp ``(start_steps, ramp_fraction)``."""
    if ramp is None:
        return n_steps
    start, fraction = ramp
    return int(min(n_steps, start + (n_steps - start) * epoch / (fraction * n_epochs)))


class _Guard:
    """Divergence guard: restore the best state at the current length and halve the rate.

    Before every epoch the parameters and optimiser state are noted; they are the ones that
    produced the epoch's loss (exactly so with one update per epoch). After the epoch, a
    non-finite loss or one above ``factor`` times the best loss seen at the current sequence
    length restores the noted state of that best epoch and halves the learning-rate scale;
    otherwise a better loss makes the noted state the new best.
    """

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.lr_scale = 1.0
        self.restores = 0
        self.best = math.inf
        self.length = -1
        self.state: tuple[dict[str, Any], dict[str, Any]] | None = None
        self.candidate: tuple[dict[str, Any], dict[str, Any]] | None = None

    def before_epoch(self, model: RNNCell, optimizer: torch.optim.Optimizer) -> None:
        self.candidate = (
            copy.deepcopy(model.state_dict()),
            copy.deepcopy(optimizer.state_dict()),
        )

    def after_epoch(
        self, model: RNNCell, optimizer: torch.optim.Optimizer, length: int, loss: float
    ) -> None:
        same_length = self.state is not None and self.length == length
        if not math.isfinite(loss) or (same_length and loss > self.factor * self.best):
            if self.state is None:
                raise RuntimeError(f"training diverged (loss {loss}) before any stable epoch")
            model.load_state_dict(self.state[0])
            optimizer.load_state_dict(self.state[1])
            self.lr_scale *= 0.5
            self.restores += 1
        elif not same_length or loss < self.best:
            self.state = self.candidate
            self.length, self.best = length, loss

    def finish(self, model: RNNCell) -> None:
        """After the last epoch: restore the best state if the last update left non-finite
        parameters (its loss is never seen)."""
        finite = all(bool(torch.isfinite(value).all()) for value in model.parameters())
        if not finite and self.state is not None:
            model.load_state_dict(self.state[0])
            self.restores += 1


def state_spread(states: Tensor) -> Tensor:
    """Mean squared distance of the hidden states from their time average.

    Parameters
    ----------
    states : Tensor, shape (B, T, d)
        Hidden-state sequences.

    Returns
    -------
    Tensor, shape ()
        ``mean over b and t of ||states[b, t] - mean_t states[b, t]||^2``: for a state
        circling a limit cycle, the mean squared radius of the orbit.
    """
    return (states - states.mean(dim=1, keepdim=True)).square().sum(dim=2).mean()


def _batch_losses(
    model: RNNCell, data: _Data, index: Tensor, n_steps: int, penalty: float
) -> tuple[Tensor, Tensor]:
    """The mean squared error on a batch and the objective (error plus state-spread penalty)."""
    weights = None if data.weights is None else data.weights[index, :n_steps]
    states, outputs = model.rollout(data.inputs[index, :n_steps], data.x0[index])
    error, weight = _squared_error(outputs, data.targets[index, :n_steps], weights)
    loss = error.sum() / weight.sum()
    if penalty == 0.0:
        return loss, loss
    return loss, loss + penalty * state_spread(states)


def _train_epoch(
    model: RNNCell,
    optimizer: torch.optim.Optimizer,
    data: _Data,
    n_steps: int,
    batches: list[Tensor],
    clip: float | None,
    guarded: bool = False,
    penalty: float = 0.0,
) -> float:
    """One pass over the minibatches; returns the mean loss before each update, weighted by size.

    A non-finite loss raises, or with ``guarded`` ends the epoch without an update and
    returns NaN (the guard then restores a saved state).
    """
    total = 0.0
    for index in batches:
        index = index.to(data.inputs.device)
        loss, objective = _batch_losses(model, data, index, n_steps, penalty)
        if not torch.isfinite(objective):
            if guarded:
                return math.nan
            raise RuntimeError(f"training diverged (loss {loss.item()}); lower lr or set clip")
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total += loss.item() * len(index)
    return total / sum(len(index) for index in batches)


def _lbfgs_epoch(
    model: RNNCell, optimizer: torch.optim.LBFGS, data: _Data, n_steps: int, penalty: float
) -> float:
    """One call of ``optimizer.step`` on the full batch; returns the loss before it."""
    index = torch.arange(data.inputs.shape[0], device=data.inputs.device)
    losses: list[float] = []

    def closure() -> Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss, objective = _batch_losses(model, data, index, n_steps, penalty)
        if not torch.isfinite(objective):
            raise RuntimeError(f"training diverged (loss {loss.item()}) in the L-BFGS search")
        objective.backward()
        losses.append(loss.item())
        return objective

    optimizer.step(closure)
    return losses[0]


def _new_optimizer(model: RNNCell, options: FitOptions) -> torch.optim.Optimizer:
    if options.optimizer == "lbfgs":
        return torch.optim.LBFGS(
            model.parameters(),
            lr=options.lr,
            max_iter=LBFGS_ITERATIONS,
            history_size=LBFGS_HISTORY,
            line_search_fn="strong_wolfe",
        )
    return torch.optim.Adam(model.parameters(), lr=options.lr)


class _Trainer:
    """One training run's optimiser, divergence guard and minibatch draws."""

    def __init__(self, model: RNNCell, data: _Data, options: FitOptions) -> None:
        self.model, self.data, self.options = model, data, options
        self.optimizer = _new_optimizer(model, options)
        self.guard = None if options.guard is None else _Guard(options.guard)
        self.generator = torch.Generator().manual_seed(options.seed)

    def new_stage(self) -> None:
        """A curriculum stage begins: L-BFGS starts afresh (curvature of the new length)."""
        if self.options.optimizer == "lbfgs":
            self.optimizer = _new_optimizer(self.model, self.options)

    def epoch(self, length: int, index: int, total: int) -> float:
        """Train epoch ``index`` of ``total`` on the first ``length`` steps; its loss."""
        penalty = self.options.variance_penalty
        if self.options.optimizer == "lbfgs":
            return _lbfgs_epoch(self.model, self.optimizer, self.data, length, penalty)
        options, guard = self.options, self.guard
        rate = _learning_rate(options.lr, options.lr_end, options.lr_schedule, index, total)
        for group in self.optimizer.param_groups:
            group["lr"] = (1.0 if guard is None else guard.lr_scale) * rate
        batches = _batches(
            self.data.inputs.shape[0], options.batch_size, options.sampling, self.generator
        )
        if guard is not None:
            guard.before_epoch(self.model, self.optimizer)
        loss = _train_epoch(
            self.model, self.optimizer, self.data, length, batches, options.clip,
            guard is not None, penalty,
        )
        if guard is not None:
            guard.after_epoch(self.model, self.optimizer, length, loss)
        return loss

    def finish(self) -> None:
        if self.guard is not None:
            self.guard.finish(self.model)


def _train(
    model: RNNCell,
    data: _Data,
    stages: list[tuple[int, int]],
    options: FitOptions,
    progress: bool,
) -> list[float]:
    trainer = _Trainer(model, data, options)
    total = sum(n_epochs for _, n_epochs in stages)
    history: list[float] = []
    model.train()
    with progress_bar(
        total=total, disable=not progress, desc=type(model).__name__, unit="epoch"
    ) as bar:
        for stage, (n_steps, n_epochs) in enumerate(stages):
            ramp = options.length_ramp if stage == len(stages) - 1 else None
            if stage > 0:
                trainer.new_stage()
            for epoch in range(n_epochs):
                length = _ramp_length(ramp, n_steps, epoch, n_epochs)
                loss = trainer.epoch(length, len(history), total)
                history.append(loss)
                bar.update()
                bar.set_postfix(loss=f"{loss:.3e}", T=length, refresh=False)
                if loss <= options.target_loss and length == n_steps:
                    break
    trainer.finish()
    return history


@contextlib.contextmanager
def _pinned_threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` torch threads and deterministic algorithms; restore both after.

    The caller's deterministic mode is restored with its ``warn_only`` flag.
    """
    previous_threads = torch.get_num_threads()
    previous_mode = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(DETERMINISTIC_ALGORITHMS)
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)
        torch.use_deterministic_algorithms(previous_mode, warn_only=previous_warn_only)


@contextlib.contextmanager
def _seeded_global_rng(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG (and, on CUDA, the GPUs'); restore the previous state after."""
    devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def fit(
    model: RNNCell,
    inputs: Any,
    targets: Any,
    options: FitOptions | None = None,
    *,
    x0: Any = None,
    mask: Any = None,
    cache: bool = True,
    progress: bool = True,
    **overrides: Any,
) -> FitResult:
    """Train ``model`` in place with Adam or L-BFGS on the mean squared error; cached.

    The settings are one :class:`~fhnrnn.fit_options.FitOptions`, given as ``options`` and/or
    as keywords naming its fields (which override ``options``): ``seed``, ``max_epochs`` and
    ``target_loss`` are required, the others have defaults.

    One epoch is one pass over the B sequences (one Adam step with the default full batch).
    The epoch loss recorded in the history is the loss before each update, averaged over the
    epoch's minibatches; training stops as soon as it is ``<= target_loss``. Gradients are
    clipped to a global norm of ``clip``.

    With a ``curriculum``, warm-up stages come first: stage ``(n_steps, n_epochs)`` trains on
    the first ``n_steps`` time steps of every sequence for up to ``n_epochs`` epochs, moving
    on early once its loss reaches ``target_loss``. The main phase on the full sequences
    follows, for up to ``max_epochs`` epochs. With a ``length_ramp`` ``(start_steps,
    ramp_fraction)``, epoch e of the main phase trains on the first
    ``min(T, floor(start_steps + (T - start_steps) e / (ramp_fraction max_epochs)))`` steps
    (a linear ramp reaching T after ``ramp_fraction * max_epochs`` epochs); early stopping
    then waits until the full length is reached.

    With ``sampling="sample"`` an epoch is a single Adam step on ``batch_size`` sequences
    drawn without replacement, so ``max_epochs`` counts updates.

    With ``optimizer="lbfgs"`` an epoch is one call of :class:`torch.optim.LBFGS`'s ``step``
    on the full batch: up to ``LBFGS_ITERATIONS`` quasi-Newton iterations, each with a
    strong-Wolfe line search (so several loss evaluations), keeping ``LBFGS_HISTORY``
    curvature pairs; a new L-BFGS starts with every curriculum stage. ``lr`` is then the
    initial step length of the line search (1.0 is the usual choice).

    With ``variance_penalty`` c > 0 the optimiser minimises ``loss + c * state_spread(states)``
    (see :func:`state_spread`): the mean squared distance of the hidden states from their
    time average, which keeps oscillating orbits small. The history, ``target_loss`` and
    ``converged`` still refer to the (masked) mean squared error alone.

    With a ``guard`` factor (> 1), after an epoch whose loss is not finite or exceeds
    ``guard`` times the best loss at the current length, the parameters and Adam state of
    that best epoch are restored and the learning rate is halved for the rest of training;
    if the very last update leaves non-finite parameters, the best state is restored too.

    Training is deterministic for a given seed on a given machine: the only random draws (the
    minibatch order) come from a :class:`torch.Generator` seeded with ``seed``, and the global
    random state is forked, seeded and restored, so it is left untouched.

    Parameters
    ----------
    model : RNNCell
        Model to train. It is modified in place (its parameters become the trained ones) and
        returned, in eval mode, as ``result.model``. Its device and dtype are used for the data.
    inputs : array-like, shape (B, T, m)
        Input sequences.
    targets : array-like, shape (B, T, p)
        Target outputs; ``targets[:, t]`` is compared with ``readout(states[:, t])``.
    options : FitOptions, optional
        The settings of the run (see :class:`~fhnrnn.fit_options.FitOptions`).
    x0 : array-like, shape (B, d) or (d,), optional
        Initial hidden states; zeros when omitted. Not trained.
    mask : array-like, shape (B, T) or (B, T, p), optional
        Non-negative weights of the squared errors (e.g. 0 during a transient); every
        sequence needs a positive weight (within every curriculum stage's prefix too).
    cache : bool
        Load the weights from the cache when this configuration was trained before, and store
        them after training.
    progress : bool
        Show a progress bar with the current loss.
    **overrides
        Fields of :class:`~fhnrnn.fit_options.FitOptions` (``seed=0, max_epochs=100, ...``).

    Returns
    -------
    FitResult
        The model, loss history, training time, epochs, cache flag, convergence flag, key.

    Raises
    ------
    ValueError
        On malformed arguments (the message names the argument).
    RuntimeError
        When the loss becomes NaN or infinite.
    """
    options = FitOptions.resolve(options, overrides)
    data, stages, key = _prepare(model, inputs, targets, options, x0, mask)

    def train() -> list[float]:
        with _seeded_global_rng(options.seed, next(model.parameters()).device):
            return _train(model, data, stages, options, progress)

    return _cached_fit(
        model, key, options.description(), train, cache=cache, target_loss=options.target_loss
    )


def _prepare(
    model: RNNCell, inputs: Any, targets: Any, options: FitOptions, x0: Any, mask: Any
) -> tuple[_Data, list[tuple[int, int]], str]:
    """The checked data, the training stages and the cache key of a run of :func:`fit`."""
    data = _check_data(model, inputs, targets, x0, mask)
    stages = options.stages(data.inputs.shape[1])
    _check_mask_covers_stages(data.weights, stages, options)
    return data, stages, _configuration_key(model, data, options.description())


def _window_length(window_lengths: list[int], iteration: int, n_iters: int) -> int:
    """Window length of ``iteration``: equal shares of the run, in the given order."""
    return window_lengths[min(iteration * len(window_lengths) // n_iters, len(window_lengths) - 1)]


def _window_starts(
    rng: np.random.Generator, batch_size: int, n_samples: int, length: int, settings: dict[str, Any]
) -> np.ndarray:
    """First sample of each window; a fraction of the windows starts early in a trajectory."""
    starts = rng.integers(0, n_samples - length, batch_size)
    early = rng.random(batch_size) < settings["early_fraction"]
    latest = min(settings["early_steps"], n_samples - length)
    starts[early] = rng.integers(0, latest, int(early.sum()))
    return starts


def _window_loss(model: RNNCell, data: _Data, rows: Tensor, starts: Tensor, length: int) -> Tensor:
    """Mean squared error of the free run over windows of ``length`` steps from encoded starts."""
    targets = data.targets[rows[:, None], starts[:, None] + torch.arange(length + 1)]
    currents = data.inputs[rows, 0]
    x = model.encode(targets[:, 0])
    outputs = [model.readout(x)]
    for _ in range(length):
        x = model.step(x, currents)
        outputs.append(model.readout(x))
    return (torch.stack(outputs, dim=1) - targets).square().mean()


def _train_windows(
    model: RNNCell, data: _Data, settings: dict[str, Any], progress: bool
) -> list[float]:
    rng = np.random.default_rng(settings["seed"])
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    n_iters, n_samples = settings["n_iters"], data.targets.shape[1]
    history: list[float] = []
    model.train()
    iterations = progress_bar(range(n_iters), disable=not progress, desc="fit_windows", unit="it")
    for iteration in iterations:
        length = _window_length(settings["window_lengths"], iteration, n_iters)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(
                settings["lr"], settings["lr_end"], settings["lr_schedule"], iteration, n_iters
            )
        rows = rng.integers(0, data.targets.shape[0], settings["batch_size"])
        starts = _window_starts(rng, settings["batch_size"], n_samples, length, settings)
        loss = _window_loss(model, data, torch.from_numpy(rows), torch.from_numpy(starts), length)
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged (loss {loss.item()}); lower lr or set clip")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings["clip"])
        optimizer.step()
        history.append(loss.item())
    return history


def _check_window_task(
    model: Any, task: Any, window_lengths: Sequence[int]
) -> tuple[_Data, list[int]]:
    """Validate the model and task of :func:`fit_windows`; the data as model-dtype tensors."""
    if not isinstance(model, RNNCell) or not callable(getattr(model, "encode", None)):
        raise ValueError(
            f"model must be an RNNCell with an encode method, got {type(model).__name__}"
        )
    trajectories = getattr(task, "trajectories", None)
    currents = getattr(task, "currents", None)
    if trajectories is None or currents is None:
        raise ValueError("task must have trajectories (N, T, p) and currents (N,) (see fhn_flow)")
    reference = next(model.parameters())
    targets = _as_tensor(trajectories, "task.trajectories", reference)
    inputs = _as_tensor(currents, "task.currents", reference).reshape(-1, 1, 1)
    if targets.ndim != 3 or targets.shape[-1] != model.output_size:
        raise ValueError(
            f"task.trajectories must have shape (N, T, {model.output_size}), "
            f"got {tuple(targets.shape)}"
        )
    if model.input_size != 1 or inputs.shape[0] != targets.shape[0]:
        raise ValueError(
            "fit_windows needs a model with input_size 1 and one current per trajectory, got "
            f"input_size {model.input_size} and {inputs.shape[0]} currents for "
            f"{targets.shape[0]} trajectories"
        )
    lengths = [positive_int(length, "window_lengths entry") for length in window_lengths]
    if not lengths or max(lengths) >= targets.shape[1]:
        raise ValueError(
            f"window_lengths must be non-empty and shorter than T = {targets.shape[1]}, "
            f"got {list(window_lengths)}"
        )
    return _Data(inputs=inputs, targets=targets, x0=targets[:, 0], weights=None), lengths


def fit_windows(
    model: RNNCell,
    task: Any,
    *,
    seed: int,
    n_iters: int,
    window_lengths: Sequence[int] = (5, 10, 20, 40),
    batch_size: int = 256,
    lr: float = 3e-3,
    lr_end: float = 6e-5,
    clip: float = 1.0,
    early_fraction: float = 0.3,
    early_steps: int = 20,
    cache: bool = True,
    progress: bool = True,
    threads: int = 1,
) -> FitResult:
    """Train a cell with an encoder on short free-run windows of many trajectories; cached.

    Every Adam step draws ``batch_size`` windows of ``K + 1`` samples from the task's
    trajectories (trajectory uniformly, first sample uniformly, except that a fraction
    ``early_fraction`` of the windows starts within the first ``early_steps`` samples, where
    the transients are). Each window is an initial value problem: the cell starts at
    ``encode(y[s])``, runs K steps with the trajectory's current held as input, and the loss
    is the mean squared error of ``readout`` against ``y[s], ..., y[s + K]`` (the first term
    ties the read-out to the encoder). The window length K takes the values of
    ``window_lengths`` in turn, each for an equal share of the ``n_iters`` steps; the learning
    rate falls from ``lr`` to ``lr_end`` along a half cosine. The run is a fixed number of
    steps, so it is deterministic for a given seed on a given machine.

    Trained weights are cached like those of :func:`fit`, keyed by the model (class, settings,
    initial parameters), the task's arrays and every setting here.

    Parameters
    ----------
    model : RNNCell
        A cell with ``input_size == 1``, ``output_size == p`` and a method
        ``encode(y0 (B, p)) -> (B, d)``, e.g. :class:`fhnrnn.models.ResidualMLPCell`. Trained
        in place and returned in eval mode.
    task : FHNFlowTask or object with ``trajectories`` (N, T, p) and ``currents`` (N,)
        The data (e.g. from :func:`fhnrnn.tasks.fhn_flow`).
    seed : int
        Seed of the window draws.
    n_iters : int
        Number of Adam steps.
    window_lengths : sequence of int
        Window lengths K (steps), each ``< T``, used in order.
    batch_size : int
        Windows per step.
    lr, lr_end : float
        First and last learning rate of the cosine schedule.
    clip : float
        Largest global gradient norm.
    early_fraction : float
        Fraction of windows in ``[0, 1]`` that start within the first ``early_steps`` samples.
    early_steps : int
        See ``early_fraction``.
    cache, progress : bool
        As in :func:`fit`.
    threads : int
        As in :func:`fit`.

    Returns
    -------
    FitResult
        ``history`` holds the loss of every step (``epochs == n_iters``); ``converged`` is
        True when every loss was finite (training raises otherwise), as there is no target.

    Raises
    ------
    ValueError
        On malformed arguments (the message names the argument).
    RuntimeError
        When the loss becomes NaN or infinite.
    """
    data, lengths = _check_window_task(model, task, window_lengths)
    seed = non_negative_int(seed, "seed")
    if not 0.0 <= finite_positive(early_fraction, "early_fraction", allow_zero=True) <= 1.0:
        raise ValueError(f"early_fraction must lie in [0, 1], got {early_fraction!r}")
    settings = {
        "trainer": "fit_windows",
        "optimizer": "Adam",
        "loss": "mse",
        "seed": seed,
        "n_iters": positive_int(n_iters, "n_iters"),
        "window_lengths": lengths,
        "batch_size": positive_int(batch_size, "batch_size"),
        "lr": finite_positive(lr, "lr"),
        "lr_schedule": "cosine",
        "lr_end": finite_positive(lr_end, "lr_end"),
        "clip": finite_positive(clip, "clip"),
        "early_fraction": float(early_fraction),
        "early_steps": positive_int(early_steps, "early_steps"),
        "threads": positive_int(threads, "threads"),
    }
    return _cached_fit(
        model,
        _configuration_key(model, data, settings),
        settings,
        lambda: _train_windows(model, data, settings, progress),
        cache=cache,
        target_loss=None,
    )
