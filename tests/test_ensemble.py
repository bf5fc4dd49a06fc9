"""The ensemble study: its design, one run end to end, the table, and the Snakefile."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fhnrnn.ensemble import (
    ARMS,
    BASELINES,
    CELLS,
    COLUMNS,
    GROUPS,
    INITS,
    STUDY_CURRENTS,
    RunSpec,
    activation_patterns,
    aggregate,
    baseline_summary,
    cli,
    compare_networks,
    compare_tables,
    design,
    fhn_references,
    group_summary,
    label_groups,
    load_arrays,
    run_member,
    train_member,
)
from fhnrnn.ensemble.dynamics import current_index
from fhnrnn.ensemble.measure import _criterion, period_errors
from fhnrnn.models import PaperRNN

ROOT = Path(__file__).resolve().parents[1]


def test_a_run_id_round_trips_and_bad_levels_name_their_factor() -> None:
    spec = RunSpec("paper", "rot30_60", "transient", 7)
    assert RunSpec.parse(spec.run_id) == spec
    with pytest.raises(ValueError, match="cell must be one of"):
        RunSpec("rnn", "default", "study", 0)
    with pytest.raises(ValueError, match="init must be 'default' for cell 'gru'"):
        RunSpec("gru", "rot90_200", "study", 0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        RunSpec("gru", "default", "study", -1)
    for bad in ("paper_s0", "paper-default-study-s03"):
        with pytest.raises(ValueError, match="run_id must look like"):
            RunSpec.parse(bad)


def test_the_design_covers_every_level_with_the_seeds_it_promises() -> None:
    runs = design()
    assert len({spec.run_id for spec in runs}) == len(runs) == 130
    arms = Counter((spec.cell, spec.init, spec.data) for spec in runs)
    assert set(arms.values()) == {10} and len(arms) == 13
    assert {spec.cell for spec in runs} == set(CELLS)
    assert {spec.init for spec in runs if spec.cell == "paper"} == set(INITS)
    assert all((cell, "default", data) in arms for cell in ("tanh", "gru", "lstm")
               for data in ("study", "transient"))
    assert {(cell, init) for cell, init, data in arms if data == "gap"} == {
        ("paper", "rot90_200"), ("tanh", "default")}
    # seed by seed: a sweep cut short has every arm at the same number of seeds
    assert [spec.seed for spec in runs] == sorted(spec.seed for spec in runs)
    assert design(2) == runs[:26]
    with pytest.raises(ValueError, match="seeds must be a positive int"):
        design(0)


def test_the_gap_data_leave_out_the_band_and_keep_the_transient_grid_elsewhere() -> None:
    from fhnrnn.ensemble import BAND_CURRENTS, HELD_OUT_BAND
    from fhnrnn.recipes.fhn_voltage import training_currents

    transient, midpoints = training_currents(RunSpec("tanh", "default", "transient", 0).recipe())
    gap, gap_midpoints = training_currents(RunSpec("tanh", "default", "gap", 0).recipe())
    inside = (transient > HELD_OUT_BAND[0]) & (transient < HELD_OUT_BAND[1])
    np.testing.assert_array_equal(gap, transient[~inside])
    np.testing.assert_array_equal(gap_midpoints, midpoints)
    assert inside.sum() == 6 and len(BAND_CURRENTS) == 5
    # the band holds resting test currents, and training currents at rest lie on either side
    assert gap[gap < HELD_OUT_BAND[0]].size and gap[(gap > HELD_OUT_BAND[1]) & (gap < 0.33)].size
    assert ((BAND_CURRENTS > HELD_OUT_BAND[0]) & (BAND_CURRENTS < HELD_OUT_BAND[1])).all()
    for band, message in (((0.3, 0.1), "low < high"), ((0.0, np.nan), "low < high"),
                          ((-1.0, 2.0), "leaves 0 training")):
        with pytest.raises(ValueError, match=message):
            training_currents({"n_currents": 41, "I_range": (0.0, 1.75), "held_out_band": band})


def test_the_criterion_uses_the_period_and_counts_a_resting_network_as_a_miss() -> None:
    reference = fhn_references()["euler_period"]
    study = np.isfinite(reference)
    assert study.sum() == len(STUDY_CURRENTS)
    close = np.where(study, reference * 1.02, np.nan)
    result = _criterion({"period": close, "diverged": np.zeros(len(close), dtype=bool)})
    assert result["reached_criterion"]
    assert result["period_error_max"] == pytest.approx(0.02)
    # 334 steps of 0.3 with a 2 % longer period: the phase lags by 100.2 (1/P - 1/1.02P) cycles
    expected_drift = np.max(100.2 * (1 / reference[study] - 1 / close[study]))
    assert result["phase_drift_max"] == pytest.approx(expected_drift)
    resting = close.copy()
    resting[np.flatnonzero(study)[3]] = np.nan
    missed = _criterion({"period": resting, "diverged": ~np.isfinite(resting) & study})
    assert not missed["reached_criterion"]
    assert missed["n_currents_resting"] == 1 and missed["period_error_max"] == np.inf
    assert missed["n_currents_diverged"] == 1
    errors = period_errors(resting)
    assert errors.shape == (len(STUDY_CURRENTS),) and errors[3] == np.inf
    np.testing.assert_allclose(np.delete(errors, 3), 0.02)


def test_current_index_refuses_points_off_the_grid() -> None:
    grid = np.array([0.4, 0.45, 0.5])
    np.testing.assert_array_equal(current_index(np.array([0.5, 0.4]), grid), [2, 0])
    with pytest.raises(ValueError, match="u must hold only values of currents"):
        current_index(np.array([0.47]), grid)


def test_activation_patterns_are_the_signs_the_cell_itself_computes() -> None:
    cell = PaperRNN(hidden_size=8, n_layers=3, init="default", seed=2)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(5, 8, generator=generator)
    u = torch.linspace(-1, 1, 5)[:, None]
    seen = []
    hooks = [layer.register_forward_hook(lambda _, __, out: seen.append(out > 0))
             for layer in cell.hidden_layers]
    with torch.no_grad():
        cell.step(x, u)
    for hook in hooks:
        hook.remove()
    patterns = activation_patterns(cell, x.double().numpy(), u[:, 0].double().numpy())
    np.testing.assert_array_equal(patterns, torch.cat(seen, dim=-1).numpy())
    assert patterns.shape == (5, 24) and 0 < patterns.mean() < 1
    assert cell.input_layer.weight.dtype == torch.float32  # the given cell is not converted


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two tiny GRU runs (8 units, 5 updates: a poor fit, in seconds) trained into
    ``nets`` and measured into ``runs`` of one folder, with a private training cache; the
    tiny recipe holds while the tests use them."""
    folder = tmp_path_factory.mktemp("ensemble")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(CELLS, "gru", {**CELLS["gru"], "updates": 5, "hidden_size": 8})
        patch.setenv("FHNRNN_CACHE_DIR", str(folder / "cache"))
        for run_id in ("gru-default-study-s1", "gru-default-study-s2"):
            assert cli.main(["train", run_id, "--networks-dir", str(folder / "nets")]) == 0
            assert cli.main(["run", run_id, "--networks-dir", str(folder / "nets"),
                             "--out-dir", str(folder / "runs")]) == 0
        yield folder


@pytest.mark.slow
def test_one_run_writes_its_row_and_arrays_and_the_table_gathers_them(
    measured: Path, tmp_path: Path
) -> None:
    shutil.copytree(measured, tmp_path, dirs_exist_ok=True)
    manifest = json.loads((tmp_path / "nets" / "gru-default-study-s1.json").read_text())
    assert manifest["name"] == "gru-default-study-s1" and manifest["updates"] == 5
    record = json.loads((tmp_path / "runs" / "gru-default-study-s1.json").read_text())
    assert record["network_sha256"] == manifest["sha256"]
    row = record["row"]
    assert set(COLUMNS) <= set(row)
    assert row["updates"] == 5 and row["n_params"] == 3 * (8 * 8 + 8 + 8 + 8) + 9
    assert record["training_environment"]["threads"] == 1
    arrays = load_arrays(tmp_path / "runs", "gru-default-study-s1")
    assert arrays["fp_xstar"].shape == (len(arrays["fp_u"]), 8)
    kept = arrays["fp_u"][~arrays["fp_outlier"]]
    assert row["n_fixed_points"] == int(np.isin(kept, STUDY_CURRENTS).sum())
    assert arrays["fp_central"].sum() == len(np.unique(kept))
    with pytest.raises(ValueError, match="already has results"):
        run_member("gru-default-study-s1", tmp_path / "runs", networks=tmp_path / "nets")
    with pytest.raises(ValueError, match="already has a network"):
        train_member("gru-default-study-s1", tmp_path / "nets")
    assert aggregate(tmp_path / "runs", tmp_path / "runs.csv", ["gru-default-study-s1"]) == 1
    with (tmp_path / "runs.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == COLUMNS and table[0]["run_id"] == "gru-default-study-s1"
    gathered = ["aggregate", "--runs-dir", str(tmp_path / "runs"), "--out",
                str(tmp_path / "measured.csv")]
    assert cli.main(gathered) == 2  # the design's other runs have no result file
    assert cli.main([*gathered, "--measured"]) == 0
    assert list(pd.read_csv(tmp_path / "measured.csv")["run_id"]) == [
        "gru-default-study-s1", "gru-default-study-s2"]


def test_aggregate_names_the_runs_without_results(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without a result file"):
        aggregate(tmp_path, tmp_path / "runs.csv", ["paper-default-study-s0"])


def test_measuring_a_run_without_a_network_says_how_to_train_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ensemble train gru-default-study-s3"):
        run_member("gru-default-study-s3", tmp_path / "runs", networks=tmp_path / "nets")


def _rewrite(path: Path, change: Callable[[dict], None]) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


@pytest.mark.slow
@pytest.mark.parametrize(("change", "message"), [
    (lambda record: record["row"].update(run_id="gru-default-study-s9"), "holds the row of run"),
    (lambda record: record.update(measure_version=1), "measured by version 1"),
    (lambda record: record.update(network_key="0" * 64), "trained by another recipe"),
    (lambda record: record.update(network_sha256="duplicate"), "the same network"),
])
def test_aggregate_refuses_a_file_that_does_not_hold_its_run_and_names_it(
    measured: Path, tmp_path: Path, change: Callable[[dict], None], message: str
) -> None:
    shutil.copytree(measured / "runs", tmp_path / "runs")
    runs = tmp_path / "runs"
    ids = ["gru-default-study-s1", "gru-default-study-s2"]
    assert aggregate(runs, tmp_path / "runs.csv", ids) == 2
    if message == "the same network":
        _rewrite(runs / f"{ids[0]}.json", change)
    _rewrite(runs / f"{ids[1]}.json", change)
    with pytest.raises(ValueError, match=message) as error:
        aggregate(runs, tmp_path / "again.csv", ids)
    assert f"{ids[1]}.json" in str(error.value)
    assert not (tmp_path / "again.csv").exists()


@pytest.mark.slow
def test_a_remeasured_table_agrees_with_the_first_and_a_changed_cell_is_named(
    measured: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_id = "gru-default-study-s1"
    run_member(run_id, tmp_path / "again" / "runs", networks=measured / "nets")
    for folder in (measured / "runs", tmp_path / "again" / "runs"):
        aggregate(folder, folder.parent / "runs.csv", [run_id])
    reference, again = measured, tmp_path / "again"
    assert compare_tables(reference, again).empty  # the measurement is deterministic
    table = pd.read_csv(again / "runs.csv", keep_default_na=False)
    table.loc[0, "measure_seconds"] *= 3  # timings are left out
    table.loc[0, "train_mse"] *= 1 + 1e-6  # within the tolerance
    table.loc[0, "n_stable"] += 1
    table.to_csv(again / "runs.csv", index=False)
    differences = compare_tables(reference, again)
    assert list(differences["column"]) == ["n_stable"]
    arguments = ["compare-tables", "--reference", str(reference), "--table", str(again)]
    assert cli.main(arguments) == 1
    assert "1 cells in 1 runs differ" in capsys.readouterr().out
    with pytest.raises(ValueError, match="rtol must lie in"):
        compare_tables(reference, again, rtol=0.0)
    extra = table.iloc[[0]].assign(run_id="gru-default-study-s2", n_stable=0)
    pd.concat([extra, table]).to_csv(again / "runs.csv", index=False)
    assert list(compare_tables(reference, again)["column"]) == ["n_stable"]  # s2 is extra
    table.loc[0, "run_id"] = "gru-default-study-s2"
    table.to_csv(again / "runs.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks \['gru-default-study-s1'\]"):
        compare_tables(reference, again)


def test_the_cli_lists_the_design_and_reports_bad_run_ids(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["list"]) == 0
    assert capsys.readouterr().out.split() == [spec.run_id for spec in design()]
    assert cli.main(["run", "nope", "--out-dir", "unused"]) == 2
    assert "run_id must look like" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("snakemake") is None and not (
    Path(sys.executable).parent / "snakemake").exists(), reason="the [ensemble] extra")
def test_the_snakefile_lists_one_job_per_run_and_the_table(tmp_path: Path) -> None:
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run(
        [str(snakemake if snakemake.exists() else "snakemake"), "-s", "workflow/Snakefile",
         "--profile", "workflow/profiles/local", "-n", "--config", f"out={tmp_path}",
         f"networks={tmp_path / 'nets'}"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    rows = [line.split() for line in (result.stdout + result.stderr).splitlines()]
    jobs = {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}
    assert jobs["train"] == jobs["run"] == len(design())
    assert jobs["aggregate"] == 1


def test_the_shipped_table_holds_runs_of_the_design_each_with_its_arrays() -> None:
    with (ROOT / "results" / "ensemble" / "runs.csv").open() as handle:
        table = list(csv.DictReader(handle))
    run_ids = [row["run_id"] for row in table]
    assert run_ids == sorted(run_ids) and set(run_ids) <= {spec.run_id for spec in design()}
    assert all(row[column] != "" for row in table for column in ("train_mse", "n_params"))
    assert all((ROOT / "results" / "ensemble" / "runs" / f"{row['run_id']}.npz").is_file()
               for row in table)


def _synthetic_table() -> pd.DataFrame:
    """Five PaperRNN runs per data set-up, the transient ones with the smaller errors."""
    rows = [
        {"run_id": f"paper-rot90_200-{data}-s{seed}", "cell": "paper", "init": "rot90_200",
         "data": data, "seed": seed, "reached_criterion": seed % 2 == 0,
         "rmse_vstar": (0.5 if data == "study" else 0.1) + 0.01 * seed,
         "train_mse": np.nan if seed == 0 else 0.02}
        for data in ("study", "transient") for seed in range(5)
    ]
    return pd.DataFrame(rows)


def test_group_summary_counts_runs_and_gives_median_and_range() -> None:
    summary = group_summary(_synthetic_table(), ["rmse_vstar", "train_mse"])
    study = summary.loc["PaperRNN, rotation 90-200"]
    assert study["runs"] == 5 and study["reached"] == 3
    assert study["rmse_vstar"] == "0.52 [0.5, 0.54]"
    assert study["train_mse"] == "0.02 [0.02, 0.02]"  # the NaN run is left out


def test_baseline_summary_gives_median_errors_and_counts_the_runs_that_beat_every_baseline(
) -> None:
    table = _synthetic_table().assign(
        skill_vstar=[-1.0, 0.5, -2.0, np.nan, 0.1] * 2,
        **{f"base_vstar_{name}": value for name, value in
           zip(BASELINES, (0.6, 0.4, 0.3, 0.2), strict=True)})
    summary = baseline_summary(table, "vstar").loc["PaperRNN, rotation 90-200"]
    assert summary["runs"] == 4  # the run without a skill is left out
    assert summary["network"] == pytest.approx(np.median([0.5, 0.51, 0.52, 0.54]))
    assert summary["line"] == pytest.approx(0.2)
    assert summary["beats_best"] == 2
    assert summary["skill"] == "-0.45 [-2, 0.5]"
    with pytest.raises(ValueError, match="target must be one of"):
        baseline_summary(table, "v_star")


def test_label_groups_names_every_arm_and_refuses_runs_outside_the_design() -> None:
    assert set(GROUPS) == set(ARMS)
    table = _synthetic_table().assign(init="rot30_60", data="transient")
    with pytest.raises(ValueError, match="outside the design's groups"):
        label_groups(table)


def test_the_design_is_read_without_importing_torch_or_matplotlib():
    """The Snakefile reads the design at every parse, in every job: it must stay cheap."""
    probe = (
        "import sys, fhnrnn.ensemble.factors; "
        "print(sorted({'torch', 'matplotlib'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import fhnrnn.ensemble as ensemble

    assert ensemble.design is design
    for name in ensemble.__all__:  # every public name resolves, from its own submodule
        value = getattr(ensemble, name)
        assert name.isupper() or value.__module__.startswith("fhnrnn.ensemble.")
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        ensemble.nonsense  # noqa: B018


@pytest.mark.slow
def test_a_retrained_network_is_compared_with_the_shipped_one_bit_for_bit(
    measured: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(["train", "gru-default-study-s1", "--networks-dir", str(tmp_path)]) == 0
    rows = compare_networks(tmp_path, measured / "nets")
    assert [(row["run_id"], row["identical"]) for row in rows] == [("gru-default-study-s1", True)]
    assert rows[0]["train_mse_shipped"] == rows[0]["train_mse_retrained"]
    unshipped = compare_networks(tmp_path, tmp_path / "none")
    assert not unshipped[0]["identical"] and np.isnan(unshipped[0]["train_mse_shipped"])
    capsys.readouterr()
    assert cli.main(["compare", "--networks-dir", str(tmp_path)]) == 0
    assert "retrained networks are bitwise the shipped ones" in capsys.readouterr().out
