"""What the study does with fixed points: translation to output space, comparison, PCA.

- :func:`fixed_points_by_input` searches the fixed points of a trained cell with the input held
  at each value of a path, from the cell's own trajectories, and follows every point found
  along the path (:func:`fhnrnn.fixedpoints.find_fixed_points_along`); its starts come from
  :func:`trajectory_starts`.
- :func:`translate` maps fixed points (or any states) to the output space with the read-out.
- :func:`departure_time` and :func:`predicted_departure_time` measure and predict how long a
  trajectory started near an unstable fixed point stays near it.
- :func:`error_summary` compares two curves; :func:`continuous_time_eigenvalues` maps the
  eigenvalues of a map with step ``dt`` to rates of an ODE, ``log(lambda) / dt``.
- :func:`pca_projection` projects trajectories and points onto the trajectories' principal
  components.

Everything runs in float64 on copies of the models; nothing here modifies a model.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA

from fhnrnn._validation import (
    complex_array,
    finite_positive,
    non_negative_int,
    positive_int,
    real_array,
)
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import (
    ExactSearch,
    FixedPoints,
    PiecewiseAffine,
    find_fixed_points_along,
    find_fixed_points_exact,
)
from fhnrnn.models import RNNCell

__all__ = [
    "continuous_time_eigenvalues",
    "departure_time",
    "error_summary",
    "euler_map_rates",
    "exact_search_by_input",
    "fixed_point_branch",
    "fixed_point_labels",
    "fixed_points_by_input",
    "leading_complex",
    "oscillation_period",
    "pca_projection",
    "predicted_departure_time",
    "rollout_float64",
    "rotation_rates",
    "stability_changes",
    "trajectory_starts",
    "translate",
]


def _check_model(model: Any) -> RNNCell:
    if not isinstance(model, RNNCell):
        raise ValueError(f"model must be an fhnrnn.models.RNNCell, got {type(model).__name__}")
    return model


def _float64_copy(model: RNNCell) -> RNNCell:
    return copy.deepcopy(_check_model(model)).to(device="cpu", dtype=torch.float64).eval()


def _inputs_2d(inputs: ArrayLike, model: RNNCell) -> np.ndarray:
    values = real_array(inputs, "inputs")
    if values.ndim == 1 and model.input_size == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != model.input_size or values.shape[0] < 1:
        raise ValueError(
            f"inputs must have shape (K, {model.input_size}) (or (K,) for scalar input), "
            f"got {np.shape(inputs)}"
        )
    if not np.isfinite(values).all():
        raise ValueError("inputs must be finite")
    return values


def rollout_float64(
    model: RNNCell, inputs: ArrayLike, n_steps: int, x0: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run a float64 copy of the model with each input held constant.

    Parameters
    ----------
    model : RNNCell
        The model (not modified).
    inputs : array_like, shape (K, m), or (K,) for scalar input
        Constant input of each run.
    n_steps : int
        Number T of steps.
    x0 : array_like, shape (K, d), optional
        Initial states; zeros when omitted.

    Returns
    -------
    states : ndarray, shape (K, T, d)
    outputs : ndarray, shape (K, T, p)
    """
    values = _inputs_2d(inputs, _check_model(model))
    n_steps = positive_int(n_steps, "n_steps")
    cell = _float64_copy(model)
    u = torch.as_tensor(values)[:, None, :].expand(-1, n_steps, -1)
    start = None if x0 is None else torch.as_tensor(real_array(x0, "x0"))
    if start is not None and start.shape != (values.shape[0], cell.state_size):
        raise ValueError(
            f"x0 must have shape {(values.shape[0], cell.state_size)}, got {tuple(start.shape)}"
        )
    with torch.no_grad():
        states, outputs = cell.rollout(u, start)
    return states.numpy(), outputs.numpy()


ROUTES = ("auto", "exact", "smooth")
_EXACT_OPTIONS = {"patience", "max_segments", "progress"}


def fixed_points_by_input(
    model: RNNCell,
    inputs: ArrayLike,
    *,
    n_steps: int = 334,
    n_per_input: int = 4,
    route: str = "auto",
    **options: Any,
) -> FixedPoints:
    """Fixed points of a cell with the input held at each value of a path.

    The starts are ``n_per_input`` states evenly spaced along the cell's trajectory from zero
    at each input (``n_steps`` steps, :func:`trajectory_starts`). Two routes:

    - ``"exact"``, for a cell that declares itself piecewise affine
      (:class:`fhnrnn.fixedpoints.PiecewiseAffine`, e.g. the study's ReLU cell) with one scalar
      input: piecewise-linear homotopy from the starts and exact continuation of every point
      reached across the inputs' range (:func:`fhnrnn.fixedpoints.find_fixed_points_exact`);
      the inputs must increase. ``FixedPoints.method`` is ``"exact"``.
    - ``"smooth"``, for any cell: Newton from the starts, then every point found is followed
      along the path in both directions (:func:`fhnrnn.fixedpoints.find_fixed_points_along`).

    ``route="auto"`` takes the exact route where it applies and the smooth one otherwise; the
    route taken is recorded in ``FixedPoints.method``.

    Parameters
    ----------
    model : RNNCell
        The trained cell (not modified; the engine searches a float64 copy).
    inputs : array_like, shape (K, m), or (K,) for scalar input
        Input values, ordered along the continuation path (e.g. increasing current).
    n_steps : int
        Length of the trajectory that starts are taken from.
    n_per_input : int
        Trajectory starts per input.
    route : {"auto", "exact", "smooth"}
        The route (see above).
    **options
        For the exact route: ``patience``, ``max_segments``, ``progress``; for the smooth
        route: the options of :func:`fhnrnn.fixedpoints.find_fixed_points_along`
        (``max_halvings``, ``tol_q``, ``tol_unique``, ``max_iters``, ``progress`` ...).

    Returns
    -------
    FixedPoints
        The unique fixed points at each input, ``u`` telling which, with their Jacobians and
        eigenvalues (sorted by modulus, largest first).
    """
    values = _inputs_2d(inputs, _check_model(model))
    exact = _resolved_route(route, model) == "exact"
    unknown = sorted(set(options) - _EXACT_OPTIONS) if exact else []
    if unknown:
        raise ValueError(
            f"options {unknown} do not apply to the exact route (it takes "
            f"{sorted(_EXACT_OPTIONS)}); pass route='smooth' to use them"
        )
    if exact:
        return exact_search_by_input(model, values, n_steps=n_steps, n_per_input=n_per_input,
                                     **options).points
    starts, index = trajectory_starts(model, values, n_steps, n_per_input)
    return find_fixed_points_along(model, values, starts, index, **options)


def exact_search_by_input(
    model: RNNCell,
    inputs: ArrayLike,
    *,
    n_steps: int = 334,
    n_per_input: int = 4,
    **options: Any,
) -> ExactSearch:
    """The exact route of :func:`fixed_points_by_input`, with the whole account of the search.

    Homotopies start from ``n_per_input`` states along the trajectory at each input
    (:func:`trajectory_starts`); ``options`` (``patience``, ``max_segments``, ``progress``) go
    to :func:`fhnrnn.fixedpoints.find_fixed_points_exact`.

    Returns
    -------
    ExactSearch
        The points, the components, how each homotopy ended and, for each input without a
        point, why.
    """
    starts, index = trajectory_starts(model, inputs, n_steps, n_per_input)
    return find_fixed_points_exact(model, inputs, starts, index, **options)


def _resolved_route(route: str, model: RNNCell) -> str:
    """``route`` with "auto" resolved: exact for a piecewise-affine cell of one input."""
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, got {route!r}")
    exact_applies = isinstance(model, PiecewiseAffine) and model.input_size == 1
    if route == "exact" and not exact_applies:
        raise ValueError(
            "route='exact' needs a piecewise-affine cell (with a relu_stack() method) of one "
            f"input; got {type(model).__name__} with {model.input_size} input(s)"
        )
    if route == "auto":
        return "exact" if exact_applies else "smooth"
    return route


def trajectory_starts(
    model: RNNCell, inputs: ArrayLike, n_steps: int = 334, n_per_input: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Starts for a search: states evenly spaced along the cell's trajectory at each input.

    The trajectory at each input starts from zero and runs ``n_steps`` steps (float64).

    Parameters
    ----------
    model : RNNCell
        The cell (not modified).
    inputs : array_like, shape (K, m), or (K,) for scalar input
    n_steps : int
        Length of each trajectory.
    n_per_input : int
        States taken per input, the first and last included.

    Returns
    -------
    starts : ndarray, shape (K * n_per_input, d)
    index : ndarray of int, shape (K * n_per_input,)
        The row of ``inputs`` of each start.
    """
    values = _inputs_2d(inputs, _check_model(model))
    n_per_input = positive_int(n_per_input, "n_per_input")
    states, _ = rollout_float64(model, values, n_steps)
    picks = np.linspace(0, n_steps - 1, n_per_input).round().astype(int)
    starts = states[:, picks].reshape(-1, states.shape[-1])
    return starts, np.repeat(np.arange(len(values)), n_per_input)


def translate(model: RNNCell, states: ArrayLike) -> np.ndarray:
    """Map hidden states (e.g. fixed points) to output space with the model's read-out.

    Parameters
    ----------
    model : RNNCell
        The model (not modified).
    states : array_like, shape (K, d)

    Returns
    -------
    ndarray, shape (K, p), float64
        ``readout(states)``.
    """
    cell = _float64_copy(model)
    x = torch.as_tensor(real_array(states, "states"))
    if x.ndim != 2 or x.shape[1] != cell.state_size:
        raise ValueError(f"states must have shape (K, {cell.state_size}), got {tuple(x.shape)}")
    with torch.no_grad():
        return cell.readout(x).numpy()


def departure_time(trajectory: ArrayLike, center: ArrayLike, tol: float) -> np.ndarray:
    """First step at which trajectories leave a ball around a point.

    Parameters
    ----------
    trajectory : array_like, shape (..., T, n)
        States (or outputs) over time.
    center : array_like, shape (..., n) or (n,)
        The point (e.g. a fixed point, or its translated output), broadcast over the runs.
    tol : float
        Radius (> 0) of the ball, Euclidean norm.

    Returns
    -------
    ndarray of int, shape (...)
        Index of the first step with ``||trajectory[t] - center|| > tol``; T when none.
    """
    path = real_array(trajectory, "trajectory")
    point = real_array(center, "center")
    if path.ndim < 2 or point.ndim < 1 or point.shape[-1] != path.shape[-1]:
        raise ValueError(
            f"trajectory (..., T, n) and center (..., n) must agree in n, got shapes "
            f"{path.shape} and {point.shape}"
        )
    try:
        np.broadcast_shapes(point.shape[:-1], path.shape[:-2])
    except ValueError as error:
        raise ValueError(
            f"center's leading shape {point.shape[:-1]} does not match trajectory's "
            f"{path.shape[:-2]}"
        ) from error
    tol = finite_positive(tol, "tol")
    with np.errstate(over="ignore"):  # a distance beyond float64 is still > tol
        outside = np.linalg.norm(path - point[..., None, :], axis=-1) > tol
    return np.where(outside.any(axis=-1), outside.argmax(axis=-1), path.shape[-2])


def predicted_departure_time(
    initial_distance: ArrayLike, eigenvalue_modulus: ArrayLike, tol: float
) -> np.ndarray:
    """Steps a perturbation growing like ``|lambda|^t`` needs to reach ``tol``.

    ``t = log(tol / initial_distance) / log|lambda|`` for the leading eigenvalue of an unstable
    fixed point (``|lambda| > 1``), the linear prediction of :func:`departure_time`.

    Parameters
    ----------
    initial_distance : array_like
        Size (> 0) of the initial perturbation along the unstable directions.
    eigenvalue_modulus : array_like
        ``|lambda_1| > 1``, broadcast against ``initial_distance``.
    tol : float
        Distance (> 0) that counts as departed.

    Returns
    -------
    ndarray, float64
        Predicted departure times in steps.
    """
    distance = real_array(initial_distance, "initial_distance")
    modulus = real_array(eigenvalue_modulus, "eigenvalue_modulus")
    if not (distance > 0).all() or not (modulus > 1).all():
        raise ValueError("initial_distance must be > 0 and eigenvalue_modulus > 1")
    tol = finite_positive(tol, "tol")
    return np.log(tol / distance) / np.log(modulus)


def error_summary(estimate: ArrayLike, reference: ArrayLike) -> dict[str, float]:
    """Mean squared, root-mean-square and largest absolute difference of two curves.

    Parameters
    ----------
    estimate, reference : array_like, same shape
        E.g. the translated fixed points and the analytic fixed points at the same inputs.

    Returns
    -------
    dict
        ``{"mse": ..., "rmse": ..., "max_abs": ...}``.
    """
    a = real_array(estimate, "estimate")
    b = real_array(reference, "reference")
    if a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"estimate and reference must have one non-empty shape, got {a.shape} and {b.shape}"
        )
    with np.errstate(over="ignore"):
        difference = a - b
        mse = float(np.mean(difference**2))
    if not math.isfinite(mse):
        raise ValueError("estimate and reference are too large: their squared error overflows")
    return {"mse": mse, "rmse": math.sqrt(mse), "max_abs": float(np.abs(difference).max())}


def continuous_time_eigenvalues(eigenvalues: ArrayLike, dt: float) -> np.ndarray:
    """Eigenvalues of a map with time step ``dt`` as rates of an ODE: ``log(lambda) / dt``.

    The principal branch of the complex logarithm is used, so rotations are read as
    frequencies in ``(-pi/dt, pi/dt]``.

    Parameters
    ----------
    eigenvalues : array_like of complex, any shape
        Non-zero eigenvalues of the map's Jacobian.
    dt : float
        Time step (> 0) of one application of the map.

    Returns
    -------
    ndarray of complex128, same shape
    """
    values = complex_array(eigenvalues, "eigenvalues")
    dt = finite_positive(dt, "dt")
    if (values == 0).any():
        raise ValueError("eigenvalues must be non-zero to take their logarithm")
    return np.log(values) / dt


def leading_complex(eigenvalues: ArrayLike, *, tol: float = 1e-9) -> np.ndarray:
    """The complex multiplier of largest modulus of each point: its leading rotation.

    Parameters
    ----------
    eigenvalues : array_like of complex, shape (N, d)
        Each row sorted by modulus, largest first (as :class:`fhnrnn.fixedpoints.FixedPoints`
        stores them).
    tol : float
        Imaginary parts with ``|Im| <= tol`` count as real.

    Returns
    -------
    ndarray of complex128, shape (N,)
        NaN for a point whose multipliers are all real.
    """
    values = complex_array(eigenvalues, "eigenvalues")
    if values.ndim != 2:
        raise ValueError(f"eigenvalues must have shape (N, d), got {values.shape}")
    rotating = np.abs(values.imag) > tol
    first = np.argmax(rotating, axis=1)
    lead = values[np.arange(len(values)), first]
    return np.where(rotating.any(axis=1), lead, np.nan + 0j)


def rotation_rates(eigenvalues: ArrayLike, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """The rotation rate and modulus of each point's leading complex multiplier.

    Parameters
    ----------
    eigenvalues : array_like of complex, shape (N, d)
        Sorted by modulus, largest first.
    dt : float
        Time step (> 0) of one application of the map.

    Returns
    -------
    rate : ndarray, shape (N,)
        ``|arg lambda| / dt``, the angular frequency in time units; NaN without a complex pair.
    modulus : ndarray, shape (N,)
        ``|lambda|``.
    """
    dt = finite_positive(dt, "dt")
    lead = leading_complex(eigenvalues)
    return np.abs(np.angle(lead)) / dt, np.abs(lead)


def euler_map_rates(model: FHN, currents: ArrayLike, dt: float) -> np.ndarray:
    """The FHN eigenvalues at v*(I) as the forward-Euler map sees them: ``log(1 + dt mu) / dt``.

    A network trained on Euler data of step ``dt`` is compared with this map, not the ODE.

    Parameters
    ----------
    model : FHN
        The model.
    currents : array_like, shape (K,)
        Currents I.
    dt : float
        The Euler step (> 0).

    Returns
    -------
    ndarray of complex128, shape (K, 2)
    """
    if not isinstance(model, FHN):
        raise ValueError(f"model must be an fhnrnn.fhn.FHN, got {type(model).__name__}")
    dt = finite_positive(dt, "dt")
    try:
        eigenvalues = model.eigenvalues(real_array(currents, "currents"))
    except ValueError as error:  # the model names them I
        raise ValueError(f"currents: {error}") from error
    return continuous_time_eigenvalues(1 + dt * eigenvalues, dt)


def _points(points: ArrayLike, d: int) -> np.ndarray:
    """Extra points of :func:`pca_projection` as a finite float64 array of shape (K, d)."""
    values = real_array(points, "points")
    if values.ndim != 2 or values.shape[1] != d or values.shape[0] < 1:
        raise ValueError(
            f"points must have shape (K, {d}) with K >= 1 like the states, got {values.shape}"
        )
    return values


def pca_projection(
    trajectories: ArrayLike, points: ArrayLike | None = None, n_components: int = 3
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Project trajectories, and optionally extra points, onto the trajectories' PCs.

    Parameters
    ----------
    trajectories : array_like, shape (B, T, d)
        Hidden states; the principal components are fitted to all B*T states.
    points : array_like, shape (K, d), optional
        Extra states (e.g. fixed points) projected with the same components.
    n_components : int
        Number of components.

    Returns
    -------
    projected : ndarray, shape (B, T, n_components)
    projected_points : ndarray, shape (K, n_components), or None
    explained : ndarray, shape (n_components,)
        Fraction of the trajectories' variance explained by each component.
    """
    states = real_array(trajectories, "trajectories")
    if states.ndim != 3 or states.size == 0:
        raise ValueError(f"trajectories must have a non-empty shape (B, T, d), got {states.shape}")
    n_components = positive_int(n_components, "n_components")
    if n_components > min(states.shape[0] * states.shape[1], states.shape[2]):
        raise ValueError(
            f"n_components must be at most min(B * T, d) for trajectories of shape "
            f"{states.shape}, got {n_components}"
        )
    flat = states.reshape(-1, states.shape[-1])
    if not np.ptp(flat, axis=0).any():
        raise ValueError("trajectories must vary: all their states are equal (no variance)")
    extra = None if points is None else _points(points, states.shape[-1])
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        pca = PCA(n_components=n_components, svd_solver="full").fit(flat)
        projected = pca.transform(flat).reshape(*states.shape[:2], n_components)
        extra = None if extra is None else pca.transform(extra)
    explained = pca.explained_variance_ratio_
    for name, result in (("trajectories", projected), ("trajectories", explained),
                         ("points", extra)):
        if result is not None and not np.isfinite(result).all():
            raise ValueError(f"{name} too large in magnitude: the projection overflows float64")
    return projected, extra, explained


def fixed_point_branch(
    model: RNNCell, inputs: ArrayLike, starts: ArrayLike, **options: Any
) -> FixedPoints:
    """One fixed point per input, followed along the inputs by continuation.

    ``starts[k]`` starts a search with the input held at ``inputs[k]``, and every point found
    is followed along the inputs both ways (:func:`fhnrnn.fixedpoints.find_fixed_points_along`),
    so that a branch found at one input also seeds its neighbours. At each input the point
    kept is the one nearest to ``starts[k]``.

    Parameters
    ----------
    model : RNNCell
        The trained cell (not modified; the engine searches a float64 copy).
    inputs : array_like, shape (K, m), or (K,) for scalar input
        Input values in continuation order (e.g. increasing current).
    starts : array_like, shape (K, d)
        One start per input, e.g. the encoded analytic fixed point.
    **options
        Passed to :func:`fhnrnn.fixedpoints.find_fixed_points_along` (``tol_q``,
        ``max_halvings``, ``progress`` ...).

    Returns
    -------
    FixedPoints
        K points, ``result.u[k] == inputs[k]`` (as rounded to the search's ``dtype``, e.g.
        float32 when ``dtype=torch.float32`` is passed).

    Raises
    ------
    RuntimeError
        When no fixed point is found at some input.
    """
    values = _inputs_2d(inputs, _check_model(model))
    x0 = real_array(starts, "starts")
    if x0.shape != (values.shape[0], model.state_size):
        raise ValueError(
            f"starts must have shape {(values.shape[0], model.state_size)}, got {x0.shape}"
        )
    found = find_fixed_points_along(model, values, x0, np.arange(len(values)), **options)
    searched = torch.as_tensor(values).to(options.get("dtype", torch.float64)).double().numpy()
    chosen = _nearest_per_input(found, searched, x0)
    if (chosen < 0).any():
        missing = values[chosen < 0, 0]
        raise RuntimeError(f"no fixed point found at inputs {missing.tolist()}")
    return found[chosen]


def _nearest_per_input(points: FixedPoints, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Index of the point nearest to ``starts[k]`` among those at ``values[k]`` (-1 if none)."""
    chosen = np.full(len(values), -1)
    for index, value in enumerate(values):
        members = np.flatnonzero(np.all(points.u == value, axis=1))
        if members.size:
            distance = np.linalg.norm(points.xstar[members] - starts[index], axis=1)
            chosen[index] = members[np.argmin(distance)]
    return chosen


def _rotates(eigenvalues: np.ndarray, tol: float) -> np.ndarray:
    """Whether the eigenvalue of largest modulus of each row has ``|Im| > tol``."""
    leading = eigenvalues[np.arange(len(eigenvalues)), np.argmax(np.abs(eigenvalues), axis=1)]
    return np.abs(leading.imag) > tol


def fixed_point_labels(eigenvalues: ArrayLike, *, tol: float = 1e-9) -> np.ndarray:
    """Type of fixed points of a map, in the words of :meth:`fhnrnn.fhn.FHN.classify`.

    Stable when every ``|lambda| < 1``; a focus when the eigenvalue of largest modulus has an
    imaginary part larger than ``tol`` (the map rotates around the point), else a node.

    Parameters
    ----------
    eigenvalues : array_like of complex, shape (K, d)
        Eigenvalues of the map's Jacobian at K fixed points.
    tol : float
        Threshold on ``|Im lambda|`` of the leading eigenvalue.

    Returns
    -------
    ndarray of str, shape (K,)
        ``"stable node"``, ``"stable focus"``, ``"unstable node"`` or ``"unstable focus"``.
    """
    values = complex_array(eigenvalues, "eigenvalues")
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(f"eigenvalues must have shape (K, d), got {values.shape}")
    stability = np.where(np.abs(values).max(axis=1) < 1.0, "stable", "unstable")
    kind = np.where(_rotates(values, tol), "focus", "node")
    return np.char.add(np.char.add(stability, " "), kind)


def stability_changes(inputs: ArrayLike, eigenvalues: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Inputs where a branch of fixed points of a map gains or loses stability.

    Along the branch, ``g = max |lambda| - 1`` is interpolated linearly between consecutive
    inputs wherever it changes sign. A crossing where the leading eigenvalue is complex at both
    ends is a Hopf (Neimark–Sacker) point of the map.

    Parameters
    ----------
    inputs : array_like, shape (K,)
        Increasing scalar inputs.
    eigenvalues : array_like of complex, shape (K, d)
        Eigenvalues of the map's Jacobian at the branch point of each input.

    Returns
    -------
    crossings : ndarray, shape (C,)
        Interpolated inputs where ``g = 0``.
    complex_pair : ndarray of bool, shape (C,)
        Whether the leading eigenvalue is complex on both sides of each crossing.
    """
    currents = real_array(inputs, "inputs")
    values = complex_array(eigenvalues, "eigenvalues")
    if currents.ndim != 1 or values.ndim != 2 or len(values) != len(currents):
        raise ValueError(
            f"inputs (K,) and eigenvalues (K, d) must match, got {currents.shape} and "
            f"{values.shape}"
        )
    if not (np.diff(currents) > 0).all():
        raise ValueError("inputs must be strictly increasing")
    g = np.abs(values).max(axis=1) - 1.0
    rotating = _rotates(values, 1e-9)
    left = np.flatnonzero((g[:-1] < 0) != (g[1:] < 0))
    crossings = currents[left] + (currents[left + 1] - currents[left]) * g[left] / (
        g[left] - g[left + 1]
    )
    return crossings, rotating[left] & rotating[left + 1]


def oscillation_period(
    signal: ArrayLike, dt: float, *, discard: int = 0, min_amplitude: float = 1e-3
) -> tuple[float, float, float]:
    """Period and range of a sampled oscillation, from upward crossings of its mid-level.

    After dropping the first ``discard`` samples, the upward crossings of
    ``(max + min) / 2`` are located by linear interpolation between samples; the period is
    the mean time between consecutive crossings.

    Parameters
    ----------
    signal : array_like, shape (T,)
        E.g. the voltage of a long free run.
    dt : float
        Sampling step (> 0).
    discard : int
        Leading samples (the transient) left out.
    min_amplitude : float
        Peak-to-peak range below which the signal counts as resting.

    Returns
    -------
    period : float
        NaN when the signal rests or shows fewer than three upward crossings.
    low, high : float
        Smallest and largest value after the transient.
    """
    values = real_array(signal, "signal")
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError(f"signal must be a finite 1-D array, got shape {values.shape}")
    dt = finite_positive(dt, "dt")
    discard = non_negative_int(discard, "discard")
    if values.size < 2:
        raise ValueError(f"signal must hold at least two samples, got shape {values.shape}")
    if discard >= values.size - 1:
        raise ValueError(f"discard must be an integer in [0, T - 2], got {discard!r}")
    values = values[discard:]
    low, high = float(values.min()), float(values.max())
    centred = values - 0.5 * (low + high)
    up = np.flatnonzero((centred[:-1] < 0) & (centred[1:] >= 0))
    if high - low < min_amplitude or up.size < 3:
        return float("nan"), low, high
    times = up + centred[up] / (centred[up] - centred[up + 1])
    return float(np.mean(np.diff(times)) * dt), low, high
