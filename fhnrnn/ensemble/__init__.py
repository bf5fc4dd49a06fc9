"""The ensemble study: every claim about the FHN network as a distribution over runs.

A run is one trained network, named by four factors (:mod:`~fhnrnn.ensemble.factors`): the
cell, its initialisation, the training data and the seed. Each run is trained with the
study's schedule (:mod:`~fhnrnn.ensemble.train`), then measured
(:mod:`~fhnrnn.ensemble.measure`, on :mod:`~fhnrnn.ensemble.dynamics`): its errors, its
free-running period against the FHN's, and its fixed points against v*(I) and the cycle
mean ⟨v⟩(I). The results of a run are two
files (:mod:`~fhnrnn.ensemble.results`), gathered into ``results/ensemble/runs.csv``.

The sweep runs on Snakemake (``workflow/Snakefile``), which calls
``python -m fhnrnn ensemble run RUN_ID`` once per run (:mod:`~fhnrnn.ensemble.cli`).
"""

import importlib
from typing import Any

# Each public name and the submodule that defines it. The submodules are imported on first
# use (PEP 562), so that reading the design (``fhnrnn.ensemble.factors``, as the Snakefile
# does every time Snakemake parses it, in every job) does not import torch and matplotlib.
_SUBMODULES = {
    "baselines": ("BASELINES", "baseline_errors", "joint_regression"),
    "geometry": ("winding_number",),
    "inference": ("CONTRASTS", "arm_comparisons", "compare_samples", "holm"),
    "dynamics": ("ANALYSIS_CURRENTS", "BAND_CURRENTS", "DT", "REST_CURRENTS", "STUDY_CURRENTS",
                 "central_points", "fhn_references", "free_run", "outliers"),
    "factors": ("ARMS", "CELLS", "DATA", "HELD_OUT_BAND", "INITS", "SEEDS_PER_ARM", "RunSpec",
                "design"),
    "figures": ("plot_by_group", "plot_comparisons", "plot_geometry", "plot_oscillator",
                "plot_period_errors", "plot_regression", "plot_skill", "plot_vstar_curves"),
    "measure": ("PERIOD_TOLERANCE", "activation_patterns", "compare_with_fhn", "measure_run",
                "oscillator_baselines", "period_errors", "search_fixed_points"),
    "results": ("COLUMNS", "aggregate", "compare_tables", "load_arrays", "load_table",
                "result_paths", "run_member", "shipped_results_dir", "train_member"),
    "summary": ("GROUPS", "baseline_summary", "group_summary", "label_groups"),
    "train": ("TrainedRun", "compare_networks", "load_run", "networks_dir", "new_cell",
              "parameter_count", "run_key", "ship_run", "train_run"),
}
_HOME = {name: module for module, names in _SUBMODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOME])


__all__ = [
    "ANALYSIS_CURRENTS",
    "ARMS",
    "BAND_CURRENTS",
    "BASELINES",
    "CELLS",
    "COLUMNS",
    "CONTRASTS",
    "DATA",
    "DT",
    "GROUPS",
    "HELD_OUT_BAND",
    "INITS",
    "PERIOD_TOLERANCE",
    "REST_CURRENTS",
    "SEEDS_PER_ARM",
    "STUDY_CURRENTS",
    "RunSpec",
    "TrainedRun",
    "activation_patterns",
    "aggregate",
    "arm_comparisons",
    "baseline_errors",
    "baseline_summary",
    "central_points",
    "compare_networks",
    "compare_samples",
    "compare_tables",
    "compare_with_fhn",
    "design",
    "fhn_references",
    "free_run",
    "group_summary",
    "holm",
    "joint_regression",
    "label_groups",
    "load_arrays",
    "load_run",
    "load_table",
    "measure_run",
    "networks_dir",
    "new_cell",
    "oscillator_baselines",
    "outliers",
    "parameter_count",
    "period_errors",
    "plot_by_group",
    "plot_comparisons",
    "plot_geometry",
    "plot_oscillator",
    "plot_period_errors",
    "plot_regression",
    "plot_skill",
    "plot_vstar_curves",
    "result_paths",
    "run_key",
    "run_member",
    "search_fixed_points",
    "ship_run",
    "shipped_results_dir",
    "train_member",
    "train_run",
    "winding_number",
]
