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
import torch

from fhnrnn._paths import atomic_write_bytes, atomic_write_text, project_root
from fhnrnn._store import read_manifest
from fhnrnn.artifacts import training_environment
from fhnrnn.ensemble.baselines import BASELINES, TARGETS
from fhnrnn.ensemble.factors import RunSpec, design
from fhnrnn.ensemble.measure import MEASURE_VERSION, measure_run
from fhnrnn.ensemble.train import (
    check_no_network,
    load_run,
    networks_dir,
    run_key,
    ship_run,
    train_run,
)

__all__ = [
    "COLUMNS",
    "aggregate",
    "compare_tables",
    "load_arrays",
    "load_table",
    "result_paths",
    "run_member",
    "shipped_results_dir",
    "train_member",
]

# The columns of runs.csv, in order.
COLUMNS = (
    "run_id", "cell", "seed", "init", "data", "hidden_size", "state_size", "n_params",
    "updates", "train_seconds", "train_mse", "held_out_mse", "period_error_max",
    "phase_drift_max", "n_currents_resting", "n_currents_diverged", "reached_criterion",
    "n_currents", "n_outliers",
    "n_currents_with_fp", "n_fixed_points", "n_stable", "n_stable_central",
    *(f"{prefix}_{target}" for target in TARGETS for prefix in ("rmse", "skill")),
    *(f"base_{target}_{baseline}" for target in TARGETS for baseline in BASELINES),
    *(f"coef_{target}{end}" for target in TARGETS for end in ("", "_lo", "_hi")),
    "regression_r2", "rmse_net_cycle_mean", "freq_ratio_median", "centroid_distance_median",
    "inside_fraction", "in_plane_offset_median", "off_plane_offset_median",
    "n_rest_currents", "n_rest_with_fp", "n_stable_rest", "rmse_vstar_rest",
    "rmse_vstar_band", "rmse_vstar_off_band",
    "n_activation_patterns", "osc_cycle_fraction", "osc_period_error", "osc_amplitude_error",
    "osc_exponent_error", "osc_prc_distance", "measure_seconds",
)


def result_paths(folder: Path, run_id: str) -> tuple[Path, Path]:
    """``folder/<run_id>.json`` (the row and its environment) and ``.npz`` (the arrays)."""
    return folder / f"{run_id}.json", folder / f"{run_id}.npz"


def train_member(run_id: str, networks: Path | None = None, *, overwrite: bool = False,
                 progress: bool = False) -> Path:
    """Train one run and ship its network (see :func:`fhnrnn.ensemble.ship_run`).

    Parameters
    ----------
    run_id : str
        ``<cell>-<init>-<data>-s<seed>`` (:class:`fhnrnn.ensemble.RunSpec`).
    networks : Path, optional
        Where the network goes; ``artifacts/ensemble`` by default.
    overwrite : bool
        Replace a network already there; otherwise that is an error (checked first).
    progress : bool
        Show a progress bar over the training updates.

    Returns
    -------
    Path
        The network's tensor file.
    """
    spec = RunSpec.parse(run_id)
    folder = networks_dir() if networks is None else Path(networks)
    check_no_network(run_id, folder, overwrite=overwrite)  # before the training, not after
    return ship_run(train_run(spec, progress=progress), folder, overwrite=overwrite)


def run_member(run_id: str, folder: Path, *, networks: Path | None = None,
               overwrite: bool = False) -> dict[str, Any]:
    """Measure the shipped network of one run; write its two result files (arrays, then row).

    Parameters
    ----------
    run_id : str
        ``<cell>-<init>-<data>-s<seed>`` (:class:`fhnrnn.ensemble.RunSpec`).
    folder : Path
        Where the result files go.
    networks : Path, optional
        The folder of the trained networks; ``artifacts/ensemble`` by default.
    overwrite : bool
        Replace existing result files; otherwise they are an error.

    Returns
    -------
    dict
        The row.
    """
    spec = RunSpec.parse(run_id)
    row_path, array_path = result_paths(Path(folder), run_id)
    if not overwrite and row_path.exists():  # the row is written last: it marks a finished run
        raise ValueError(f"run_id {run_id!r} already has results in {folder}; pass overwrite")
    networks = networks_dir() if networks is None else Path(networks)
    run = load_run(spec, networks)
    start = time.perf_counter()
    row, arrays, reasons = measure_run(run)
    row["measure_seconds"] = round(time.perf_counter() - start, 1)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(array_path, buffer.getvalue())
    manifest = read_manifest(networks, run_id) or {}
    record = {"row": row, "measure_version": MEASURE_VERSION, "recipe": spec.recipe(),
              "network_key": run_key(spec), "network_sha256": manifest.get("sha256"),
              "no_fixed_point": {f"{u:g}": why for u, why in reasons.items()},
              "training_environment": {key: manifest.get(key) for key in _TRAINED_ON},
              "environment": training_environment(torch.get_num_threads())}
    atomic_write_text(row_path, json.dumps(record, indent=1, default=_jsonable) + "\n")
    return row


_TRAINED_ON = ("torch", "cpu_capability", "threads", "machine", "created")


def _checked_record(path: Path, run_id: str) -> dict[str, Any]:
    """The record of ``path``, checked against its run (ValueError naming the file)."""
    try:
        record = json.loads(path.read_text())
        row = record["row"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a result file of the ensemble ({error})") from None
    if row.get("run_id") != run_id:
        raise ValueError(f"{path}: holds the row of run {row.get('run_id')!r}, not {run_id!r}")
    if record.get("measure_version") != MEASURE_VERSION:
        raise ValueError(
            f"{path}: measured by version {record.get('measure_version')} of "
            f"fhnrnn.ensemble.measure, not {MEASURE_VERSION}; measure the run again"
        )
    if record.get("network_key") != run_key(RunSpec.parse(run_id)):
        raise ValueError(
            f"{path}: measures a network trained by another recipe than the run's current one; "
            f"train and measure the run again"
        )
    return record


def _check_distinct_networks(folder: Path, records: dict[str, dict[str, Any]]) -> None:
    """No two runs may have measured the same network (the same weights' checksum)."""
    owners: dict[Any, list[str]] = {}
    for run_id, record in records.items():
        owners.setdefault(record.get("network_sha256"), []).append(run_id)
    shared = [ids for sha, ids in owners.items() if sha is None or len(ids) > 1]
    if shared:
        names = [str(result_paths(folder, run_id)[0]) for run_id in shared[0]]
        raise ValueError(
            f"{', '.join(names)}: the same network (or none recorded) under several runs"
        )


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

    Each file is checked before anything is written: it must hold the row of the run it is
    named after, measured by this :data:`~fhnrnn.ensemble.measure.MEASURE_VERSION`, of a
    network trained by the run's current recipe (its key, :func:`fhnrnn.ensemble.run_key`),
    and no two files may hold the same network. A failed check is a ValueError naming the file.

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
    records = {run_id: _checked_record(result_paths(folder, run_id)[0], run_id)
               for run_id in run_ids}
    _check_distinct_networks(folder, records)
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


# Columns that time the machine, not the network: left out of a comparison of two tables.
_TIMINGS = ("train_seconds", "measure_seconds")


def compare_tables(reference: Path, other: Path, *, rtol: float = 1e-4) -> pd.DataFrame:
    """The cells in which two ``runs.csv`` differ (a re-measurement against the shipped table).

    Every run of ``reference`` is compared with the same run of ``other``, which may hold more
    (runs trained since the reference was shipped). Numbers agree within ``rtol`` (relative,
    with the same absolute floor; the table keeps six significant digits, and another CPU may
    change the last bits of a float64 sum); other cells and missing values must match exactly.
    The timing columns are left out.

    Parameters
    ----------
    reference, other : Path
        Folders holding a ``runs.csv`` each.
    rtol : float
        Relative tolerance, in (0, 1).

    Returns
    -------
    DataFrame
        One row per differing cell: ``run_id``, ``column``, ``reference``, ``other``; empty
        when the tables agree.

    Raises
    ------
    ValueError
        If ``other`` lacks a run of ``reference``, or ``rtol`` is out of range.
    """
    if not 0 < rtol < 1:
        raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
    first, second = load_table(reference), load_table(other)
    lacking = sorted(set(first["run_id"]) - set(second["run_id"]))
    if lacking:
        raise ValueError(f"{Path(other) / 'runs.csv'} must hold every run of "
                         f"{Path(reference) / 'runs.csv'}; it lacks {lacking}")
    second = second.set_index("run_id").loc[first["run_id"]].reset_index()
    rows = []
    for column in (name for name in first.columns if name not in _TIMINGS):
        differ = ~_same(first[column], second[column], rtol)
        rows += [{"run_id": run_id, "column": column, "reference": a, "other": b}
                 for run_id, a, b in zip(first["run_id"][differ], first[column][differ],
                                         second[column][differ], strict=True)]
    return pd.DataFrame(rows, columns=["run_id", "column", "reference", "other"])


def _same(a: pd.Series, b: pd.Series, rtol: float) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        return np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=rtol, atol=rtol,
                          equal_nan=True)
    return (a.astype(str) == b.astype(str)).to_numpy()
