"""The held-out-band Hopf test: its training currents and its baselines (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest

from fhnrnn.fhn import FHN
from fhnrnn.recipes import shipped_artifacts
from fhnrnn.recipes.fhn_flow import (
    BAND_SEEDS,
    FLOW_BAND_RECIPE,
    FLOW_RECIPE,
    FLOW_VARIANTS,
    HOPF_BAND,
    flow_band_artifact_keys,
    train_fhn_flow,
    without_bands,
)
from fhnrnn.recipes.hopf_band import band_baselines, band_gaps, linear_zero, points_in_gaps


def test_without_bands_removes_exactly_the_currents_within_the_half_width() -> None:
    currents = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert without_bands(currents, (0.3,), 0.15) == [0.0, 0.1, 0.5, 0.6]
    assert without_bands(currents, (0.05, 0.55), 0.06) == [0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match="half_width"):
        without_bands(currents, (0.3,), 0.0)


def test_the_band_recipe_leaves_out_every_training_current_near_a_hopf_point() -> None:
    hopf = np.array(FHN().hopf_points())
    kept = np.array(FLOW_BAND_RECIPE["train_currents"])
    full = np.array(FLOW_RECIPE["train_currents"])
    distance = np.abs(kept[:, None] - hopf[None, :]).min(axis=1)
    assert (distance > HOPF_BAND).all()
    removed = np.setdiff1d(full, kept)
    assert (np.abs(removed[:, None] - hopf[None, :]).min(axis=1) <= HOPF_BAND).all()
    assert np.allclose(removed, [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 1.3, 1.35, 1.4, 1.45, 1.5, 1.55])
    unchanged = {key for key in FLOW_RECIPE if FLOW_RECIPE[key] == FLOW_BAND_RECIPE[key]}
    assert set(FLOW_RECIPE) - unchanged == {"train_currents", "n_iters"}
    assert FLOW_VARIANTS["band-full"]["n_iters"] == FLOW_RECIPE["n_iters"]
    with pytest.raises(ValueError, match="variant"):
        train_fhn_flow(quick=True, variant="no-such-variant")


def test_every_band_seed_is_a_shipped_artifact() -> None:
    keys = flow_band_artifact_keys()
    names = [f"fhn-flow-band-seed{s}" for s in BAND_SEEDS]
    assert len(BAND_SEEDS) >= 5 and sorted(keys) == sorted([*names, "fhn-flow-band-full-seed0"])
    assert keys.items() <= shipped_artifacts().items()
    assert len(set(keys.values())) == len(keys)


def test_linear_zero_of_a_line_and_its_refusals() -> None:
    assert linear_zero((0.0, 2.0), (-1.0, 1.0)) == pytest.approx(1.0)
    assert linear_zero((1.0, 4.0), (2.0, -1.0)) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="change sign"):
        linear_zero((0.0, 1.0), (1.0, 2.0))
    with pytest.raises(ValueError, match="increasing"):
        linear_zero((1.0, 0.0), (-1.0, 1.0))


def test_band_gaps_and_points_in_gaps() -> None:
    gaps = band_gaps([0.0, 0.1, 0.5, 0.6, 1.0], (0.3, 0.8))
    assert gaps == [(0.1, 0.5), (0.6, 1.0)]
    inside = points_in_gaps(np.array([0.05, 0.32, 0.7, 0.9]), gaps)
    assert [list(values) for values in inside] == [[0.32], [0.7, 0.9]]
    with pytest.raises(ValueError, match="centres"):
        band_gaps([0.0, 0.1], (0.3,))


def test_the_baselines_at_fhn_interpolate_its_eigenvalue_across_the_gap() -> None:
    fhn = FHN()
    low, high = band_baselines(FLOW_BAND_RECIPE["train_currents"], fhn)
    assert (low.gap, high.gap) == ((0.15, 0.5), (1.25, 1.6))
    assert low.real_parts[0] < 0 < low.real_parts[1]
    assert low.midpoint == pytest.approx(0.325)
    # A line through (I, Re mu) at the two gap ends is zero where the baseline says.
    slope = (low.real_parts[1] - low.real_parts[0]) / 0.35
    assert low.real_parts[0] + slope * (low.interpolated - 0.15) == pytest.approx(0.0, abs=1e-12)
    # On a gap where Re mu is close to linear the baseline lands near the true Hopf point.
    near = band_baselines([0.3, 0.36, 1.4, 1.45], fhn)[0]
    assert abs(near.interpolated - fhn.hopf_points()[0]) < abs(low.interpolated - low.hopf)
