"""The factorial design of the ensemble: its factors, their levels and the runs.

A run is one network, named by its four factor levels (:class:`RunSpec`). Its identifier,
``<cell>-<init>-<data>-s<seed>`` (e.g. ``paper-rot90_200-study-s3``), names its result files
and its Snakemake job. The design is not a full cross: the paired-rotation bands and the
generic initialisation belong to the study's cell only, and the cells are compared in the
study's set-up and in the transient-rich one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ARMS",
    "CELLS",
    "DATA",
    "HELD_OUT_BAND",
    "INITS",
    "SEEDS_PER_ARM",
    "RunSpec",
    "design",
]

# Settings shared by every run: the study's schedule (notebook 03's recipe), one torch thread
# so that two runs share two cores without changing each other's numbers.
_SCHEDULE = {
    "batch_size": 8,
    "length_ramp": (60, 0.4),
    "guard": 3.0,
    "lr_end": 1e-5,
    "target_mse": 1e-3,
    "threads": 1,
}
# cell -> size and stated training budget. The study's cell keeps its size (256 units, 5
# layers) and its 600 updates; the three standard cells have 64 units each (matched units,
# not parameters) and 1500 updates at a larger rate, about the same wall time per run. The
# tanh cell starts as a slow neutral oscillator (plane rotations of 90-200 steps) with its
# input scaled by 0.05: started as notebook 02's sine generator is (a Gaussian W of spectral
# radius 1.1, read-out x8, full input), 10 of 10 runs ended at a constant output (issue 22).
CELLS: dict[str, dict[str, Any]] = {
    "paper": {"hidden_size": 256, "n_layers": 5, "lr": 3e-4, "updates": 600, **_SCHEDULE},
    "tanh": {"hidden_size": 64, "init": "rotation", "period_range": (90.0, 200.0),
             "spectral_radius": 1.0, "input_scale": 0.05, "lr": 3e-3, "updates": 1500,
             **_SCHEDULE},
    "gru": {"hidden_size": 64, "lr": 3e-3, "updates": 1500, **_SCHEDULE},
    "lstm": {"hidden_size": 64, "lr": 3e-3, "updates": 1500, **_SCHEDULE},
}
# init -> PaperRNN settings. ``rot<low>_<high>``: paired rotation with periods in steps drawn
# from that band (90-200 is the study's); ``default``: PyTorch's default bounds. The standard
# cells always start from PyTorch's default bounds, recorded as ``default``.
INITS: dict[str, dict[str, Any]] = {
    "rot30_60": {"init": "paired_rotation", "period_range": (30.0, 60.0)},
    "rot90_200": {"init": "paired_rotation", "period_range": (90.0, 200.0)},
    "rot200_400": {"init": "paired_rotation", "period_range": (200.0, 400.0)},
    "default": {"init": "default"},
}
# The band of resting currents that the ``gap`` data leave out: inside the lower resting range
# (below the lower Hopf point, I ~ 0.33), with training currents at rest on either side.
HELD_OUT_BAND = (0.02, 0.28)
# data -> training currents. ``study``: 41 currents on [0.4, 1.4], every one oscillating;
# ``transient``: 41 currents on [0, 1.75], so that the data also come to rest at the stable
# fixed point below the lower Hopf point and above the upper one (I ~ 1.42); ``gap``: the
# transient data without the six currents inside HELD_OUT_BAND, so that one range holds
# resting currents that the data visit and resting currents that they do not (the
# identifiability experiment: ``gap`` against ``transient`` at the same test currents).
# Every condition starts from (v, w) = (0, 0) and lasts 334 Euler steps of 0.3.
DATA: dict[str, dict[str, Any]] = {
    "study": {"n_currents": 41, "I_range": (0.4, 1.4)},
    "transient": {"n_currents": 41, "I_range": (0.0, 1.75)},
    "gap": {"n_currents": 41, "I_range": (0.0, 1.75), "held_out_band": HELD_OUT_BAND},
}
_ID = re.compile(r"^(?P<cell>[a-z]+)-(?P<init>[a-z0-9_]+)-(?P<data>[a-z]+)-s(?P<seed>0|[1-9]\d*)$")


@dataclass(frozen=True)
class RunSpec:
    """One run of the ensemble: a cell, an initialisation, a data set-up and a seed.

    Raises ValueError for a level outside the design's factors.
    """

    cell: str
    init: str
    data: str
    seed: int

    def __post_init__(self) -> None:
        _check_level(self.cell, CELLS, "cell")
        _check_level(self.init, INITS, "init")
        _check_level(self.data, DATA, "data")
        if self.cell != "paper" and self.init != "default":
            raise ValueError(f"init must be 'default' for cell {self.cell!r}, got {self.init!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {self.seed!r}")

    @property
    def run_id(self) -> str:
        """``<cell>-<init>-<data>-s<seed>``, the name of the run's files."""
        return f"{self.cell}-{self.init}-{self.data}-s{self.seed}"

    @classmethod
    def parse(cls, run_id: str) -> RunSpec:
        """The run named ``run_id`` (the inverse of :attr:`run_id`)."""
        match = _ID.match(run_id)
        if match is None:
            raise ValueError(
                f"run_id must look like '<cell>-<init>-<data>-s<seed>', got {run_id!r}"
            )
        return cls(**{**match.groupdict(), "seed": int(match["seed"])})

    def recipe(self) -> dict[str, Any]:
        """Every setting of the run's training (JSON-serialisable)."""
        init = INITS[self.init] if self.cell == "paper" else {}
        return {"cell": self.cell, **CELLS[self.cell], **init, **DATA[self.data]}


def _check_level(value: str, levels: dict[str, Any], factor: str) -> None:
    if value not in levels:
        raise ValueError(f"{factor} must be one of {sorted(levels)}, got {value!r}")


SEEDS_PER_ARM = 10
# The arms of the design, (cell, init, data): the study's cell at each initialisation on the
# study's data and with the study's initialisation on the transient-rich data too; the three
# standard cells on both data set-ups; the study's cell and the tanh cell on the gap data.
ARMS: tuple[tuple[str, str, str], ...] = (
    *(("paper", init, "study") for init in ("rot90_200", "rot30_60", "rot200_400", "default")),
    ("paper", "rot90_200", "transient"),
    *((cell, "default", data) for data in ("study", "transient")
      for cell in ("gru", "lstm", "tanh")),
    ("paper", "rot90_200", "gap"),
    ("tanh", "default", "gap"),
)


def design(seeds: int = SEEDS_PER_ARM) -> list[RunSpec]:
    """The runs of the ensemble: ``seeds`` seeds of each of the 13 arms (:data:`ARMS`).

    Ordered seed by seed (every arm's seed 0, then every arm's seed 1, ...), so that a sweep
    cut short has the same number of runs in every arm.
    """
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds must be a positive int, got {seeds!r}")
    return [RunSpec(cell, init, data, seed) for seed in range(seeds)
            for cell, init, data in ARMS]
