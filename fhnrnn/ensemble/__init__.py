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

from fhnrnn.ensemble.dynamics import (
    ANALYSIS_CURRENTS,
    DT,
    REST_CURRENTS,
    STUDY_CURRENTS,
    central_points,
    fhn_references,
    free_run,
    outliers,
)
from fhnrnn.ensemble.factors import CELLS, DATA, INITS, RunSpec, design
from fhnrnn.ensemble.figures import plot_by_group, plot_piecewise, plot_vstar_curves
from fhnrnn.ensemble.measure import (
    PERIOD_TOLERANCE,
    activation_patterns,
    compare_with_fhn,
    measure_run,
)
from fhnrnn.ensemble.results import (
    COLUMNS,
    aggregate,
    load_arrays,
    load_table,
    result_paths,
    run_member,
    shipped_results_dir,
)
from fhnrnn.ensemble.summary import GROUPS, data_effect, group_summary, label_groups
from fhnrnn.ensemble.train import TrainedRun, new_cell, parameter_count, train_run

__all__ = [
    "ANALYSIS_CURRENTS",
    "CELLS",
    "COLUMNS",
    "DATA",
    "DT",
    "GROUPS",
    "INITS",
    "PERIOD_TOLERANCE",
    "REST_CURRENTS",
    "STUDY_CURRENTS",
    "RunSpec",
    "TrainedRun",
    "activation_patterns",
    "aggregate",
    "central_points",
    "compare_with_fhn",
    "data_effect",
    "design",
    "fhn_references",
    "free_run",
    "group_summary",
    "label_groups",
    "load_arrays",
    "load_table",
    "measure_run",
    "new_cell",
    "outliers",
    "parameter_count",
    "plot_by_group",
    "plot_piecewise",
    "plot_vstar_curves",
    "result_paths",
    "run_member",
    "shipped_results_dir",
    "train_run",
]
