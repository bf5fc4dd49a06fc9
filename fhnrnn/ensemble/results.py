"""Writing one run's result files and gathering them into ``runs.csv``."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fhnrnn._paths import atomic_write_bytes, atomic_write_text, project_root
from fhnrnn.artifacts import training_environment
from fhnrnn.ensemble.factors import RunSpec, design
from fhnrnn.ensemble.measure import MEASURE_VERSION, measure_run
from fhnrnn.ensemble.train import train_run

__all__ = [
    "COLUMNS",
    "aggregate",
    "load_arrays",
    "load_table",
    "result_paths",
    "run_member",
    "shipped_results_dir",
]

# The columns of runs.csv, in order.
COLUMNS = (
    "run_id", "cell", "seed", "init", "data", "hidden_size", "state_size", "n_params",
    "updates", "train_seconds", "train_mse", "held_out_mse", "period_error_max",
    "phase_drift_max", "n_currents_resting", "n_currents_diverged", "reached_criterion",
    "n_currents", "n_outliers",
    "n_currents_with_fp", "n_fixed_points", "n_stable", "n_stable_central", "rmse_vstar",
    "rmse_cycle_mean", "rmse_net_cycle_mean", "freq_ratio_median", "centroid_distance_median",
    "closer_to", "n_rest_currents", "n_rest_with_fp", "n_stable_rest", "rmse_vstar_rest",
    "n_activation_patterns", "vstar_linear_r2", "measure_seconds",
)


def result_paths(folder: Path, run_id: str) -> tuple[Path, Path]:
    """``folder/<run_id>.json`` (the row and its environment) and ``.npz`` (the arrays)."""
    return folder / f"{run_id}.json", folder / f"{run_id}.npz"


def run_member(run_id: str, folder: Path, *, overwrite: bool = False,
               progress: bool = False) -> dict[str, Any]:
    """Train and measure one run, and write its two result files (arrays first, row last).

    Parameters
    ----------
    run_id : str
        ``<cell>-<init>-<data>-s<seed>`` (:class:`fhnrnn.ensemble.RunSpec`).
    folder : Path
        Where the files go.
    overwrite : bool
        Replace existing result files; otherwise they are an error.
    progress : bool
        Show a progress bar over the training updates.

    Returns
    -------
    dict
        The row.
    """
    spec = RunSpec.parse(run_id)
    row_path, array_path = result_paths(Path(folder), run_id)
    if not overwrite and row_path.exists():  # the row is written last: it marks a finished run
        raise ValueError(f"run_id {run_id!r} already has results in {folder}; pass overwrite")
    run = train_run(spec, progress=progress)
    start = time.perf_counter()
    row, arrays = measure_run(run)
    row["measure_seconds"] = round(time.perf_counter() - start, 1)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(array_path, buffer.getvalue())
    record = {"row": row, "measure_version": MEASURE_VERSION, "recipe": spec.recipe(),
              "fit_key": run.fit.key,
              "from_cache": run.fit.from_cache,
              "environment": training_environment(spec.recipe()["threads"])}
    atomic_write_text(row_path, json.dumps(record, indent=1, default=_jsonable) + "\n")
    return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def load_arrays(folder: Path, run_id: str) -> dict[str, np.ndarray]:
    """The arrays of one run (see :func:`fhnrnn.ensemble.measure_run`)."""
    with np.load(result_paths(Path(folder), run_id)[1], allow_pickle=False) as archive:
        return dict(archive)


def aggregate(folder: Path, out: Path, run_ids: list[str] | None = None) -> int:
    """Gather the rows of ``folder/*.json`` into the CSV ``out``, one row per run.

    Parameters
    ----------
    folder : Path
        The per-run files.
    out : Path
        The table, written atomically; its columns are :data:`COLUMNS`.
    run_ids : list of str, optional
        The runs, in order; by default those of :func:`fhnrnn.ensemble.design`, sorted (files
        of other runs in ``folder`` are left out).

    Returns
    -------
    int
        The number of rows.
    """
    folder = Path(folder)
    if run_ids is None:
        run_ids = sorted(spec.run_id for spec in design())
    missing = [run_id for run_id in run_ids if not result_paths(folder, run_id)[0].is_file()]
    if missing:
        raise ValueError(f"run_ids without a result file in {folder}: {missing}")
    records = {run_id: json.loads(result_paths(folder, run_id)[0].read_text())
               for run_id in run_ids}
    stale = [run_id for run_id, record in records.items()
             if record.get("measure_version") != MEASURE_VERSION]
    if stale:
        raise ValueError(
            f"run_ids measured by another version of fhnrnn.ensemble.measure (not "
            f"{MEASURE_VERSION}): {stale}; delete their files and run the sweep again"
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run_id in run_ids:
        row = records[run_id]["row"]
        writer.writerow({column: _cell(row.get(column)) for column in COLUMNS})
    atomic_write_text(Path(out), buffer.getvalue())
    return len(run_ids)


def _cell(value: Any) -> Any:
    """CSV text of a value: floats to 6 significant digits, NaN and missing as empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return str(value) if math.isinf(value) else f"{value:.6g}"
    return value


def shipped_results_dir() -> Path:
    """``results/ensemble`` of the project: the shipped table and per-run files."""
    return project_root() / "results" / "ensemble"


def load_table(folder: Path | None = None) -> pd.DataFrame:
    """``runs.csv`` of ``folder`` (the shipped results by default) as a DataFrame.

    ``reached_criterion`` is read as bool; empty cells (a quantity a run does not have,
    e.g. a frequency ratio where it has no fixed point) as NaN.
    """
    path = Path(shipped_results_dir() if folder is None else folder) / "runs.csv"
    if not path.is_file():
        raise ValueError(f"folder must hold a runs.csv (run `make ensemble`), got {path.parent}")
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    table["reached_criterion"] = table["reached_criterion"].astype(str) == "True"
    return table
