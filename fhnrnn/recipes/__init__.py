"""Every training recipe and search setting a notebook uses, in one place.

- :mod:`~fhnrnn.recipes.sine_wave`: the sine-wave generator and its control (notebook 02);
- :mod:`~fhnrnn.recipes.fhn_voltage`: the study's deep-ReLU network and a GRU trained on the FHN
  voltage (notebooks 03-05), :mod:`~fhnrnn.recipes.fhn_fixed_points`, their fixed points at
  many currents, :mod:`~fhnrnn.recipes.fhn_exact`, the study cell's exact fixed-point curve
  over 0 <= I <= 1.75, and :mod:`~fhnrnn.recipes.fhn_branch`, its branches by smooth
  continuation (shipped, kept as the reference the exact curve is tested against);
- :mod:`~fhnrnn.recipes.fhn_flow`: the network trained on the FHN flow (notebook 06), and its
  variant trained without the currents around the Hopf points, whose baselines are in
  :mod:`~fhnrnn.recipes.hopf_band`.

Each recipe returns its shipped network (:mod:`fhnrnn.artifacts`) when one exists for its
settings, and trains otherwise.
"""

from fhnrnn.recipes.fhn_branch import (
    BRANCH_CONTINUATION,
    BranchSummary,
    branch_artifact_keys,
    fhn_rnn_branches,
)
from fhnrnn.recipes.fhn_exact import EXACT_CURVES, CurveSummary, fhn_rnn_curves
from fhnrnn.recipes.fhn_fixed_points import (
    EXACT_FIXED_POINT_SEARCH,
    FIXED_POINT_SEARCH,
    SEARCH_VERSION,
    central_fixed_points,
    fhn_rnn_fixed_points,
    fhn_rnn_search_account,
    fixed_point_artifact_keys,
)
from fhnrnn.recipes.fhn_flow import (
    BAND_SEEDS,
    FLOW_BAND_RECIPE,
    FLOW_RECIPE,
    FLOW_VARIANTS,
    HOPF_BAND,
    FlowRun,
    flow_artifact_keys,
    flow_band_artifact_keys,
    train_fhn_flow,
)
from fhnrnn.recipes.fhn_voltage import (
    GRU_RECIPE,
    RECIPE,
    FHNRNNRun,
    fhn_rnn_artifact_keys,
    train_fhn_rnn,
)
from fhnrnn.recipes.sine_wave import (
    SINE_RECIPE,
    SineRun,
    sine_artifact_keys,
    train_sine_generator,
)

__all__ = [
    "BAND_SEEDS",
    "BRANCH_CONTINUATION",
    "EXACT_CURVES",
    "EXACT_FIXED_POINT_SEARCH",
    "FIXED_POINT_SEARCH",
    "FLOW_BAND_RECIPE",
    "FLOW_RECIPE",
    "FLOW_VARIANTS",
    "GRU_RECIPE",
    "HOPF_BAND",
    "RECIPE",
    "SEARCH_VERSION",
    "SINE_RECIPE",
    "BranchSummary",
    "CurveSummary",
    "FHNRNNRun",
    "FlowRun",
    "SineRun",
    "central_fixed_points",
    "fhn_rnn_branches",
    "fhn_rnn_curves",
    "fhn_rnn_fixed_points",
    "fhn_rnn_search_account",
    "shipped_artifacts",
    "train_fhn_flow",
    "train_fhn_rnn",
    "train_sine_generator",
]


def shipped_artifacts() -> dict[str, str]:
    """Artifact name -> key of every network (and result) the committed notebooks analyse.

    These are the networks of seed 0, the held-out-band flow networks of every seed in
    ``BAND_SEEDS``, and the fixed points of the study's cell;
    ``tests/test_shipped_artifacts.py`` checks that ``artifacts/`` holds each of them, made by
    the current recipe.
    """
    return {
        **sine_artifact_keys(),
        **fhn_rnn_artifact_keys(),
        **flow_artifact_keys(),
        **flow_band_artifact_keys(),
        **fixed_point_artifact_keys(),
        **branch_artifact_keys(),
    }
