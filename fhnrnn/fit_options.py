"""What :func:`fhnrnn.training.fit` can be told: one validated, frozen :class:`FitOptions`.

A training recipe is then a typed value: ``FitOptions(seed=0, max_epochs=600, ...)`` checks
every field on construction (the message names the field), and :meth:`FitOptions.description`
gives the settings that enter the cache key of :func:`~fhnrnn.training.fit`. ``fit`` takes
``options=FitOptions(...)`` and, for convenience, any field as a keyword that overrides it
(``fit(model, inputs, targets, seed=0, max_epochs=50, target_loss=1e-3)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fhnrnn._validation import (
    finite_positive,
    non_negative_int,
    options_and_overrides,
    positive_int,
)

__all__ = ["FitOptions"]

LRSchedule = Literal["constant", "cosine"]
Sampling = Literal["shuffle", "sample"]
Optimizer = Literal["adam", "lbfgs"]

LR_SCHEDULES = ("constant", "cosine")
SAMPLINGS = ("shuffle", "sample")
OPTIMIZERS = ("adam", "lbfgs")
# L-BFGS: iterations per epoch (one call of LBFGS.step) and curvature pairs kept.
LBFGS_ITERATIONS, LBFGS_HISTORY = 10, 50
_REQUIRED = ("seed", "max_epochs", "target_loss")


def _pair(value: Any, name: str, parts: str) -> tuple[Any, Any]:
    """The two items of ``value``; ``parts`` names them in the error message."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a pair {parts}, got {value!r}")
    try:
        first, second = value
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a pair {parts}, got {value!r}") from error
    return first, second


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _curriculum(value: Any) -> tuple[tuple[int, int], ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"curriculum must be a sequence of (n_steps, n_epochs), got {value!r}")
    stages = []
    for index, stage in enumerate(value):
        n_steps, n_epochs = _pair(stage, f"curriculum[{index}]", "(n_steps, n_epochs)")
        n_epochs = positive_int(n_epochs, f"curriculum[{index}] epochs")
        stages.append((positive_int(n_steps, f"curriculum[{index}] n_steps"), n_epochs))
    return tuple(stages)


def _length_ramp(value: Any) -> tuple[int, float] | None:
    if value is None:
        return None
    start, fraction = _pair(value, "length_ramp", "(start_steps, ramp_fraction)")
    start = positive_int(start, "length_ramp start_steps")
    if not 0.0 < finite_positive(fraction, "length_ramp ramp_fraction") <= 1.0:
        raise ValueError(f"length_ramp ramp_fraction must lie in (0, 1], got {fraction}")
    return start, float(fraction)


@dataclass(frozen=True)
class FitOptions:
    """Settings of one training run of :func:`fhnrnn.training.fit`, validated on construction.

    Attributes
    ----------
    seed : int
        Seed of all random draws during training (>= 0).
    max_epochs : int
        Largest number of epochs of the main phase (>= 1).
    target_loss : float
        Early-stopping threshold on the epoch loss (>= 0).
    lr : float
        Adam learning rate (peak rate for ``lr_schedule="cosine"``); for L-BFGS the initial
        step length of each line search.
    clip : float or None
        Largest global gradient norm; None disables clipping.
    batch_size : int or None
        Minibatch size; the full batch when None.
    lr_schedule : {"constant", "cosine"}
        ``"cosine"`` decays the rate from ``lr`` to ``lr_end`` (``lr / 100`` when None) along
        a half cosine over all planned epochs (curriculum included).
    curriculum : tuple of (int, int)
        Warm-up stages ``(n_steps, n_epochs)``, trained in order before the main phase
        (``None`` is taken as no stage).
    sampling : {"shuffle", "sample"}
        ``"shuffle"``: an epoch passes over all sequences in shuffled minibatches;
        ``"sample"``: an epoch is one update on a random minibatch (needs ``batch_size``).
    lr_end : float or None
        Final rate of the cosine schedule (needs ``lr_schedule="cosine"``).
    length_ramp : (int, float) or None
        ``(start_steps, ramp_fraction)`` with ``start_steps >= 1`` and
        ``0 < ramp_fraction <= 1``: a linear ramp of the sequence length over the main phase.
    guard : float or None
        Divergence guard factor (> 1); see :func:`fhnrnn.training.fit`.
    optimizer : {"adam", "lbfgs"}
        ``"lbfgs"`` needs ``clip=None`` and takes no ``batch_size``, cosine schedule,
        ``length_ramp`` or ``guard``.
    variance_penalty : float
        Weight (>= 0) of the hidden-state spread added to the objective.
    threads : int
        Torch threads to train with (>= 1; part of the cache key).

    Raises
    ------
    ValueError
        When a field is out of range or two fields conflict, naming them.
    """

    seed: int
    max_epochs: int
    target_loss: float
    lr: float = 1e-3
    clip: float | None = 1.0
    batch_size: int | None = None
    lr_schedule: LRSchedule = "constant"
    curriculum: tuple[tuple[int, int], ...] = ()
    sampling: Sampling = "shuffle"
    lr_end: float | None = None
    length_ramp: tuple[int, float] | None = None
    guard: float | None = None
    optimizer: Optimizer = "adam"
    variance_penalty: float = 0.0
    threads: int = 1

    def __post_init__(self) -> None:
        for name, value in self._checked_fields().items():
            object.__setattr__(self, name, value)
        self._check_combinations()

    def _checked_fields(self) -> dict[str, Any]:
        checked = {
            "seed": non_negative_int(self.seed, "seed"),
            "max_epochs": positive_int(self.max_epochs, "max_epochs"),
            "target_loss": finite_positive(self.target_loss, "target_loss", allow_zero=True),
            "lr": finite_positive(self.lr, "lr"),
            "lr_schedule": _choice(self.lr_schedule, "lr_schedule", LR_SCHEDULES),
            "curriculum": _curriculum(self.curriculum),
            "sampling": _choice(self.sampling, "sampling", SAMPLINGS),
            "length_ramp": _length_ramp(self.length_ramp),
            "optimizer": _choice(self.optimizer, "optimizer", OPTIMIZERS),
            "variance_penalty": finite_positive(
                self.variance_penalty, "variance_penalty", allow_zero=True
            ),
            "threads": positive_int(self.threads, "threads"),
        }
        if self.clip is not None:
            checked["clip"] = finite_positive(self.clip, "clip")
        if self.batch_size is not None:
            checked["batch_size"] = positive_int(self.batch_size, "batch_size")
        if self.lr_end is not None:
            checked["lr_end"] = finite_positive(self.lr_end, "lr_end")
        if self.guard is not None and not finite_positive(self.guard, "guard") > 1.0:
            raise ValueError(f"guard must be > 1, got {self.guard!r}")
        if self.guard is not None:
            checked["guard"] = float(self.guard)
        return checked

    def _check_combinations(self) -> None:
        if self.sampling == "sample" and self.batch_size is None:
            raise ValueError("sampling='sample' needs a batch_size")
        if self.lr_end is not None and self.lr_schedule != "cosine":
            raise ValueError("lr_end needs lr_schedule='cosine'")
        if self.optimizer != "lbfgs":
            return
        conflicts = {
            "clip (pass clip=None)": self.clip is not None,
            "batch_size": self.batch_size is not None,
            "lr_schedule='cosine'": self.lr_schedule != "constant",
            "length_ramp": self.length_ramp is not None,
            "guard": self.guard is not None,
        }
        given = [name for name, used in conflicts.items() if used]
        if given:
            raise ValueError(
                "optimizer='lbfgs' runs full-batch with a constant step length and takes no "
                f"{', '.join(given)}"
            )

    def stages(self, steps: int) -> list[tuple[int, int]]:
        """The curriculum stages and the main phase ``(steps, max_epochs)``, for T = ``steps``.

        Raises
        ------
        ValueError
            When a stage or the ``length_ramp`` start is longer than the sequences.
        """
        for index, (n_steps, _) in enumerate(self.curriculum):
            if n_steps > steps:
                raise ValueError(
                    f"curriculum[{index}] n_steps must be <= T = {steps}, got {n_steps}"
                )
        if self.length_ramp is not None and self.length_ramp[0] > steps:
            raise ValueError(
                f"length_ramp start_steps must be <= T = {steps}, got {self.length_ramp[0]}"
            )
        return [*self.curriculum, (steps, self.max_epochs)]

    def description(self) -> dict[str, Any]:
        """The settings as they enter the cache key (JSON-serialisable).

        Optional settings appear only when they differ from their defaults, so that the keys
        of runs that do not use them stay what they were before those settings existed.
        """
        settings: dict[str, Any] = {
            "optimizer": "Adam",
            "loss": "mse",
            "seed": self.seed,
            "max_epochs": self.max_epochs,
            "target_loss": self.target_loss,
            "lr": self.lr,
            "clip": self.clip,
            "batch_size": self.batch_size,
            "lr_schedule": self.lr_schedule,
            "curriculum": [list(stage) for stage in self.curriculum],
            "threads": self.threads,
        }
        if self.sampling != "shuffle":
            settings["sampling"] = self.sampling
        if self.lr_end is not None:
            settings["lr_end"] = self.lr_end
        if self.length_ramp is not None:
            settings["length_ramp"] = list(self.length_ramp)
        if self.guard is not None:
            settings["guard"] = self.guard
        if self.optimizer == "lbfgs":
            settings.update(
                optimizer="LBFGS", lbfgs_iterations=LBFGS_ITERATIONS, lbfgs_history=LBFGS_HISTORY
            )
        if self.variance_penalty > 0.0:
            settings["variance_penalty"] = self.variance_penalty
        return settings

    @classmethod
    def resolve(cls, options: FitOptions | None, overrides: dict[str, Any]) -> FitOptions:
        """``options`` with the fields in ``overrides`` replaced (``cls(**overrides)`` if None).

        Raises
        ------
        ValueError
            When ``options`` is not a FitOptions, an override names no field, or a required
            field (``seed``, ``max_epochs``, ``target_loss``) is given nowhere.
        """
        options_and_overrides(options, overrides, cls, "training")
        if options is not None:
            return dataclasses.replace(options, **overrides)
        missing = [name for name in _REQUIRED if name not in overrides]
        if missing:
            raise ValueError(
                f"fit needs {', '.join(missing)} (as keywords or in options=FitOptions(...))"
            )
        return cls(**overrides)
