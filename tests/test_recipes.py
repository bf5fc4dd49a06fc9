"""The shared training recipe of notebooks 03-05, in its quick (smoke-test) form."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fhnrnn.analysis import translate
from fhnrnn.artifacts import ArtifactWarning
from fhnrnn.models import GRUAdapter, PaperRNN
from fhnrnn.recipes import (
    BRANCH_CONTINUATION,
    fhn_rnn_branches,
    fhn_rnn_fixed_points,
    train_fhn_rnn,
)
from fhnrnn.recipes.fhn_fixed_points import SHIPPED_CURRENTS

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FHNRNN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize(("cell", "kind"), [("paper", PaperRNN), ("gru", GRUAdapter)])
def test_quick_run_reports_the_raw_error_of_the_folded_model(private_cache, cell, kind):
    run = train_fhn_rnn(quick=True, cell=cell, progress=False)
    assert isinstance(run.model, kind)
    with torch.no_grad():
        _, outputs = run.model.double().rollout(run.train.inputs.double())
    raw_mse = float(((outputs - run.train.targets.double()) ** 2).mean())
    np.testing.assert_allclose(run.train_mse, raw_mse, rtol=1e-4)
    again = train_fhn_rnn(quick=True, cell=cell, progress=False)
    assert again.fit.from_cache and again.train_mse == run.train_mse


def test_fixed_points_of_a_quick_run_are_cached_and_are_fixed_points(private_cache):
    run = train_fhn_rnn(quick=True, progress=False)
    currents = np.linspace(0.4, 1.4, 6)
    points = fhn_rnn_fixed_points(run, currents, progress=False)
    assert len(points) >= 1
    model = run.model.double()
    with torch.no_grad():
        images = model.step(torch.as_tensor(points.xstar), torch.as_tensor(points.u))
    np.testing.assert_allclose(images.numpy(), points.xstar, atol=1e-10)
    assert set(points.u[:, 0]) <= set(currents)
    assert len(list((private_cache / "fixedpoints").glob("*.safetensors"))) == 1
    again = fhn_rnn_fixed_points(run, currents, progress=False)
    np.testing.assert_array_equal(again.xstar, points.xstar)
    np.testing.assert_allclose(again.eigenvalues, points.eigenvalues, rtol=1e-9, atol=1e-12)
    assert again.search_record()[1] == points.search_record()[1]  # counts and settings
    np.testing.assert_array_equal(again.failed_x, points.failed_x)
    entry = next((private_cache / "fixedpoints").glob("*.safetensors"))
    entry.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="ignoring unusable cache entry.*sha256"):
        searched = fhn_rnn_fixed_points(run, currents, progress=False)
    np.testing.assert_array_equal(searched.xstar, points.xstar)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="cell"):
        train_fhn_rnn(quick=True, cell="lstm")
    with pytest.raises(ValueError, match="currents"):
        fhn_rnn_fixed_points(None, np.array([1.0, 0.5]))


def test_shipped_fixed_points_load_with_their_jacobians_recomputed(
    private_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv("FHNRNN_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    run = dataclasses.replace(train_fhn_rnn(quick=True, progress=False), name="net")
    currents = np.linspace(0.4, 1.4, 6)
    monkeypatch.setenv("FHNRNN_REFRESH_ARTIFACTS", "1")
    with pytest.warns(ArtifactWarning, match="no shipped results 'net-fixedpoints'"):
        searched = fhn_rnn_fixed_points(run, currents, cache=False, progress=False)
    monkeypatch.delenv("FHNRNN_REFRESH_ARTIFACTS")
    assert sorted(p.name for p in (tmp_path / "artifacts").iterdir()) == [
        "net-fixedpoints.json",
        "net-fixedpoints.safetensors",
    ]
    shipped = fhn_rnn_fixed_points(run, currents, cache=False, progress=False)
    np.testing.assert_array_equal(shipped.xstar, searched.xstar)
    np.testing.assert_allclose(shipped.eigenvalues, searched.eigenvalues, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(shipped.jacobian, searched.jacobian, rtol=1e-9, atol=1e-12)
    assert (shipped.n_started, shipped.n_converged) == (searched.n_started, searched.n_converged)
    np.testing.assert_array_equal(shipped.failed_index, searched.failed_index)
    with pytest.warns(ArtifactWarning, match="computed from other inputs"):
        fhn_rnn_fixed_points(run, currents[:-1], cache=False, progress=False)


def test_the_shipped_exact_set_holds_the_main_branch_whose_neimark_sacker_points_add_a_pair():
    run = train_fhn_rnn(progress=False)
    branches = fhn_rnn_branches(run)
    main = branches[0]
    low, high = BRANCH_CONTINUATION["u_range"]
    assert main.u.min() == pytest.approx(low, abs=1e-9)
    assert main.u.max() == pytest.approx(high, abs=1e-9)
    points = fhn_rnn_fixed_points(run, SHIPPED_CURRENTS, progress=False)
    assert points.method == "exact"
    voltages = translate(run.model, points.xstar)[:, 0]
    for current in SHIPPED_CURRENTS:  # the exact set has a point wherever the main branch passes
        here = np.isclose(points.u[:, 0], current)
        assert any(_passes_near(main, current, voltage) for voltage in voltages[here])
    for branch in branches:
        assert branch.leading.shape == (len(branch.u), BRANCH_CONTINUATION["n_leading"])
        for event in branch.of_kind("neimark-sacker"):  # a complex pair leaves or enters
            before, after = event["unstable"]
            assert abs(after - before) == 2 and abs(event["modulus"] - 1.0) < 0.05
            assert branch.u.min() <= event["u"] <= branch.u.max()


def _passes_near(branch, current, voltage, tol=1e-2):
    """Whether the branch's (u, v) polyline passes within tol of (current, voltage)."""
    before, after = branch.u[:-1], branch.u[1:]
    spans = np.flatnonzero((np.minimum(before, after) <= current)
                           & (current <= np.maximum(before, after)))
    for i in spans:
        weight = 0.0 if after[i] == before[i] else (current - before[i]) / (after[i] - before[i])
        between = branch.vstar[i] + weight * (branch.vstar[i + 1] - branch.vstar[i])
        if abs(between - voltage) < tol:
            return True
    return False
