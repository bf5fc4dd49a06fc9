"""Seeded, deterministic training of the recurrent cells, with a checkpoint cache.

:func:`fit` trains an :class:`~fhnrnn.models.RNNCell` with Adam on the (optionally masked) mean
squared error of its outputs, clips the gradient norm, stops early once the epoch loss reaches a
target, and shows a progress bar. A sequence-length curriculum (warm-up stages on the first
time steps of every sequence) is available for long sequences.

Trained weights are cached under :func:`fhnrnn._paths.cache_dir` in ``fit/<key>.pt`` (the
``state_dict``) and ``fit/<key>.json`` (metadata: the configuration, loss history, training
time, a SHA-256 of the weights file). ``key`` is the SHA-256 of the full configuration: the
model's class and constructor settings, its initial parameters and buffers (bytes), the inputs,
targets, initial states and mask (bytes, dtypes, shapes), and every optimisation setting. A rerun
with the same configuration loads the weights instead of training; any change retrains; an
unreadable, corrupt or mismatched cache entry is reported with a warning and retrained.

:func:`evaluate` gives the per-condition mean squared error of a model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import time
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from fhnrnn._paths import atomic_write_bytes, atomic_write_text, cache_dir
from fhnrnn.models import RNNCell

__all__ = ["FitResult", "evaluate", "fit"]

CACHE_FORMAT = 1
LR_SCHEDULES = ("constant", "cosine")
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
        SHA-256 of the configuration; names the cache files.
    """

    model: RNNCell
    history: list[float]
    seconds: float
    epochs: int
    from_cache: bool
    converged: bool
    key: str


@dataclasses.dataclass(frozen=True)
class _Data:
    inputs: Tensor
    targets: Tensor
    x0: Tensor
    weights: Tensor | None


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def _positive_float(value: float, name: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return float(value)


def _as_tensor(value: Any, name: str, reference: Tensor) -> Tensor:
    try:
        tensor = torch.as_tensor(value).detach()
    except (TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{name} must be array-like, got {type(value).__name__}") from error
    if tensor.dtype == torch.bool:
        return tensor.to(device=reference.device)
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    tensor = tensor.to(device=reference.device, dtype=reference.dtype)
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} must be finite (it holds NaN or infinity)")
    return tensor


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
    mask = _as_tensor(mask, "mask", reference).to(reference.dtype)
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


def _check_curriculum(curriculum: Sequence[tuple[int, int]] | None, steps: int) -> list[list[int]]:
    if curriculum is None:
        return []
    stages = []
    for index, stage in enumerate(curriculum):
        try:
            n_steps, n_epochs = stage
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"curriculum[{index}] must be a pair (n_steps, n_epochs), got {stage!r}"
            ) from error
        _positive_int(n_epochs, f"curriculum[{index}] epochs")
        if _positive_int(n_steps, f"curriculum[{index}] n_steps") > steps:
            raise ValueError(f"curriculum[{index}] n_steps must be <= T = {steps}, got {n_steps}")
        stages.append([n_steps, n_epochs])
    return stages


def _check_mask_covers(weights: Tensor | None, n_steps: int) -> None:
    """Every sequence needs a positive weight within its first ``n_steps`` steps."""
    if weights is not None and not (weights[:, :n_steps].sum(dim=(1, 2)) > 0).all():
        raise ValueError(
            f"mask must give every sequence a positive weight within its first {n_steps} "
            "time steps (drop sequences that are masked out entirely)"
        )


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


def _cache_paths(key: str) -> tuple[Path, Path]:
    folder = cache_dir() / "fit"
    return folder / f"{key}.pt", folder / f"{key}.json"


def _load_cached(model: RNNCell, key: str) -> dict[str, Any] | None:
    """Load cached weights into ``model``; return the metadata, or None when unusable."""
    weights_path, meta_path = _cache_paths(key)
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") != key or meta.get("format") != CACHE_FORMAT:
            raise ValueError("metadata belongs to another configuration")
        blob = weights_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
            raise ValueError("weights file does not match its checksum")
        reference = next(model.parameters())
        state = torch.load(io.BytesIO(blob), map_location=reference.device, weights_only=True)
        current = model.state_dict()
        if set(state) != set(current) or any(
            state[name].shape != current[name].shape or state[name].dtype != current[name].dtype
            for name in current
        ):
            raise ValueError("stored tensors do not fit the model")
        model.load_state_dict(state)
        return meta
    except Exception as error:  # any unusable cache entry means: retrain
        warnings.warn(
            f"ignoring unusable training cache entry {meta_path.name}: {error}; retraining",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _store(model: RNNCell, key: str, meta: dict[str, Any]) -> None:
    weights_path, meta_path = _cache_paths(key)
    buffer = io.BytesIO()
    torch.save({name: value.cpu() for name, value in model.state_dict().items()}, buffer)
    blob = buffer.getvalue()
    atomic_write_bytes(weights_path, blob)
    meta = {**meta, "weights_sha256": hashlib.sha256(blob).hexdigest()}
    atomic_write_text(meta_path, json.dumps(meta, indent=1, sort_keys=True))


def _learning_rate(lr: float, schedule: str, epoch: int, total: int) -> float:
    if schedule == "constant" or total == 1:
        return lr
    progress = epoch / (total - 1)
    return lr * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))


def _batches(batch: int, batch_size: int | None, generator: torch.Generator) -> list[Tensor]:
    if batch_size is None or batch_size >= batch:
        return [torch.arange(batch)]
    return list(torch.randperm(batch, generator=generator).split(batch_size))


def _train_epoch(
    model: RNNCell,
    optimizer: torch.optim.Optimizer,
    data: _Data,
    n_steps: int,
    batches: list[Tensor],
    clip: float | None,
) -> float:
    """One pass over the data; returns the mean loss before each update, weighted by size."""
    total = 0.0
    for index in batches:
        index = index.to(data.inputs.device)
        weights = None if data.weights is None else data.weights[index, :n_steps]
        _, outputs = model.rollout(data.inputs[index, :n_steps], data.x0[index])
        error, weight = _squared_error(outputs, data.targets[index, :n_steps], weights)
        loss = error.sum() / weight.sum()
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged (loss {loss.item()}); lower lr or set clip")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total += loss.item() * len(index)
    return total / data.inputs.shape[0]


def _train(
    model: RNNCell,
    data: _Data,
    stages: list[list[int]],
    settings: dict[str, Any],
    progress: bool,
) -> list[float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    generator = torch.Generator().manual_seed(settings["seed"])
    total = sum(n_epochs for _, n_epochs in stages)
    history: list[float] = []
    model.train()
    with tqdm(total=total, disable=not progress, desc=type(model).__name__, unit="epoch") as bar:
        for n_steps, n_epochs in stages:
            for _ in range(n_epochs):
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(
                        settings["lr"], settings["lr_schedule"], len(history), total
                    )
                batches = _batches(data.inputs.shape[0], settings["batch_size"], generator)
                loss = _train_epoch(model, optimizer, data, n_steps, batches, settings["clip"])
                history.append(loss)
                bar.update()
                bar.set_postfix(loss=f"{loss:.3e}", T=n_steps, refresh=False)
                if loss <= settings["target_loss"]:
                    break
    return history


def fit(
    model: RNNCell,
    inputs: Any,
    targets: Any,
    *,
    seed: int,
    max_epochs: int,
    target_loss: float,
    lr: float = 1e-3,
    clip: float | None = 1.0,
    x0: Any = None,
    mask: Any = None,
    batch_size: int | None = None,
    lr_schedule: str = "constant",
    curriculum: Sequence[tuple[int, int]] | None = None,
    cache: bool = True,
    progress: bool = True,
) -> FitResult:
    """Train ``model`` in place with Adam on the mean squared error; cached by configuration.

    One epoch is one pass over the B sequences (one Adam step with the default full batch).
    The epoch loss recorded in the history is the loss before each update, averaged over the
    epoch's minibatches; training stops as soon as it is ``<= target_loss``. Gradients are
    clipped to a global norm of ``clip``.

    With a ``curriculum``, warm-up stages come first: stage ``(n_steps, n_epochs)`` trains on
    the first ``n_steps`` time steps of every sequence for up to ``n_epochs`` epochs, moving
    on early once its loss reaches ``target_loss``. The main phase on the full sequences
    follows, for up to ``max_epochs`` epochs.

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
    seed : int
        Seed of all random draws during training.
    max_epochs : int
        Largest number of epochs of the main phase.
    target_loss : float
        Early-stopping threshold on the epoch loss (>= 0).
    lr : float
        Adam learning rate (peak rate for ``lr_schedule="cosine"``).
    clip : float or None
        Largest global gradient norm; None disables clipping.
    x0 : array-like, shape (B, d) or (d,), optional
        Initial hidden states; zeros when omitted. Not trained.
    mask : array-like, shape (B, T) or (B, T, p), optional
        Non-negative weights of the squared errors (e.g. 0 during a transient); every
        sequence needs a positive weight (within every curriculum stage's prefix too).
    batch_size : int, optional
        Minibatch size; the full batch when omitted.
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` decays the rate from ``lr`` to ``lr / 100`` along a half cosine over all
        planned epochs (curriculum included).
    curriculum : sequence of (int, int), optional
        Warm-up stages ``(n_steps, n_epochs)``, trained in order before the main phase.
    cache : bool
        Load the weights from the cache when this configuration was trained before, and store
        them after training.
    progress : bool
        Show a progress bar with the current loss.

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
    data = _check_data(model, inputs, targets, x0, mask)
    steps = data.inputs.shape[1]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {lr_schedule!r}")
    stages = [
        *_check_curriculum(curriculum, steps),
        [steps, _positive_int(max_epochs, "max_epochs")],
    ]
    for n_steps, _ in stages:
        _check_mask_covers(data.weights, n_steps)
    settings = {
        "optimizer": "Adam",
        "loss": "mse",
        "seed": seed,
        "max_epochs": max_epochs,
        "target_loss": _positive_float(target_loss, "target_loss", allow_zero=True),
        "lr": _positive_float(lr, "lr"),
        "clip": None if clip is None else _positive_float(clip, "clip"),
        "batch_size": None if batch_size is None else _positive_int(batch_size, "batch_size"),
        "lr_schedule": lr_schedule,
        "curriculum": stages[:-1],
    }
    key = _configuration_key(model, data, settings)

    meta = _load_cached(model, key) if cache else None
    if meta is not None:
        history, seconds = meta["history"], meta["seconds"]
    else:
        device = next(model.parameters()).device
        start = time.perf_counter()
        devices = list(range(torch.cuda.device_count())) if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            history = _train(model, data, stages, settings, progress)
        seconds = time.perf_counter() - start
        if cache:
            _store(
                model,
                key,
                {
                    "format": CACHE_FORMAT,
                    "key": key,
                    "model": type(model).__qualname__,
                    "config": model.config(),
                    "settings": settings,
                    "history": history,
                    "seconds": seconds,
                    "torch": torch.__version__,
                    "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                },
            )
    model.eval()
    return FitResult(
        model=model,
        history=list(history),
        seconds=float(seconds),
        epochs=len(history),
        from_cache=meta is not None,
        converged=history[-1] <= settings["target_loss"],
        key=key,
    )
