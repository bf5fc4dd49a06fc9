"""The Sussillo & Barak fixed-point engine.

A recurrent network's hidden state evolves by a map ``x_{t+1} = F(x_t, u)``. Its fixed points
``x* = F(x*, u)`` are the minima with value zero of

    q(x) = 1/2 ||F(x, u) - x||^2,

and the eigenvalues of the Jacobian ``dF/dx`` at ``x*`` say how the network behaves near them.

:func:`find_fixed_points` searches from many starts at once, each start with its own input.
Its default method follows a short Adam descent on ``q`` with damped Newton /
Levenberg-Marquardt steps on the residual ``r(x) = F(x, u) - x`` in float64, so that it
reaches ``q`` near the rounding floor (about 1e-30 for states of order one; on ReLU
networks, whose map is linear inside each activation region, a Newton step that stays in its
region lands on the exact fixed point). The Newton systems ``J_r dx = -r`` are solved either
with the dense Jacobian (vmapped reverse mode, Householder QR) or matrix-free by GMRES on
Jacobian-vector products (double reverse mode), which needs a few dozen products where the
dense Jacobian needs d. When many starts reach few points, ``share_jacobians=True`` runs
Newton on rounds of scouts only, and lets every other start follow a point already found by
chord steps with that point's factorised Jacobian. ``method="adam"`` is the gradient-only
procedure of the original study and of Golub & Sussillo's FixedPointFinder, kept for
comparison. :func:`find_cycles` finds periodic orbits as fixed points of the k-fold map;
:func:`sample_states` draws starts from hidden-state trajectories;
:func:`find_fixed_points_along` follows the points found along a path of inputs;
:func:`continue_branch` follows one branch by pseudo-arclength continuation and locates its
folds, branch points, flips and Neimark-Sacker points; :func:`find_fixed_points_piecewise`
searches a ReLU map region by region. A cell that declares itself piecewise affine
(:class:`PiecewiseAffine`: its :class:`ReLUStack`) is solved exactly: :func:`trace_fixed_points`
follows its fixed-point curve facet by facet, with folds and border collisions,
:func:`find_fixed_points_exact` finds its fixed points at given inputs by homotopy and
continuation, and :func:`certify` re-derives a point from its activation pattern. The smooth
finders take their settings as one :class:`SearchOptions`.

Results come back as :class:`FixedPoints` (or :class:`Cycles`): numpy arrays, saved as
``.npz`` without pickle.

Modules: :mod:`~fhnrnn.fixedpoints.results` (the result classes),
:mod:`~fhnrnn.fixedpoints.options` (settings and statuses),
:mod:`~fhnrnn.fixedpoints.search`, :mod:`~fhnrnn.fixedpoints.cycles` and
:mod:`~fhnrnn.fixedpoints.continuation` (the finders); the private modules hold the map
(``_map``), the input checks (``_inputs``), the solvers (``_adam``, ``_newton`` with its linear
models ``_dense`` and ``_krylov``, driven by ``_solve``, and the scouts and followers of
``_scouts``) and the merging of duplicates (``_unique``).
"""

from fhnrnn.fixedpoints.branch import Bifurcation, Branch, continue_branch
from fhnrnn.fixedpoints.continuation import find_fixed_points_along
from fhnrnn.fixedpoints.cycles import find_cycles
from fhnrnn.fixedpoints.exact import (
    Certificate,
    CurveEvent,
    End,
    EventKind,
    PiecewiseCurve,
    certify,
    trace_fixed_points,
)
from fhnrnn.fixedpoints.exact_search import ExactSearch, find_fixed_points_exact
from fhnrnn.fixedpoints.options import SearchOptions, Status
from fhnrnn.fixedpoints.piecewise import RegionSearch, find_fixed_points_piecewise
from fhnrnn.fixedpoints.relu import PiecewiseAffine, ReLUStack
from fhnrnn.fixedpoints.results import Cycles, FixedPoints
from fhnrnn.fixedpoints.search import (
    find_fixed_points,
    find_fixed_points_at_inputs,
    jacobians,
    linearise,
    sample_states,
)

__all__ = [
    "Bifurcation",
    "Branch",
    "Certificate",
    "CurveEvent",
    "Cycles",
    "End",
    "EventKind",
    "ExactSearch",
    "FixedPoints",
    "PiecewiseAffine",
    "PiecewiseCurve",
    "ReLUStack",
    "RegionSearch",
    "SearchOptions",
    "Status",
    "certify",
    "continue_branch",
    "find_cycles",
    "find_fixed_points",
    "find_fixed_points_along",
    "find_fixed_points_at_inputs",
    "find_fixed_points_exact",
    "find_fixed_points_piecewise",
    "jacobians",
    "linearise",
    "sample_states",
    "trace_fixed_points",
]
