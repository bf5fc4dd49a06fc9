"""What the study does with fixed points: translation to output space, comparison, PCA.

- :func:`fixed_points_by_input` searches the fixed points of a trained cell with the input held
  at each of several values, starting from the cell's own trajectories at that input and from
  the points found at the previous input (continuation), with a damped Newton iteration
  (:func:`newton_solve`) that suits piecewise-linear (ReLU) maps; the converged points are
  merged and linearised (exact Jacobians from :func:`fhnrnn.fixedpoints.jacobians`) into a
  :class:`fhnrnn.fixedpoints.FixedPoints`.
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
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.decomposition import PCA

from fhnrnn.fixedpoints import FixedPoints, find_fixed_points, jacobians
from fhnrnn.models import RNNCell

__all__ = [
    "continuous_time_eigenvalues",
    "departure_time",
    "error_summary",
    "fixed_point_branch",
    "fixed_point_labels",
    "fixed_points_by_input",
    "newton_solve",
    "oscillation_period",
    "pca_projection",
    "predicted_departure_time",
    "rollout_float64",
    "stability_changes",
    "translate",
]


def _check_model(model: Any) -> RNNCell:
    if not isinstance(model, RNNCell):
        raise ValueError(f"model must be an fhnrnn.models.RNNCell, got {type(model).__name__}")
    return model


def _float64_copy(model: RNNCell) -> RNNCell:
    return copy.deepcopy(_check_model(model)).to(device="cpu", dtype=torch.float64).eval()


def _inputs_2d(inputs: ArrayLike, model: RNNCell) -> np.ndarray:
    values = np.asarray(inputs, dtype=np.float64)
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
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    cell = _float64_copy(model)
    u = torch.as_tensor(values)[:, None, :].expand(-1, n_steps, -1)
    start = None if x0 is None else torch.as_tensor(np.asarray(x0, dtype=np.float64))
    if start is not None and start.shape != (values.shape[0], cell.state_size):
        raise ValueError(
            f"x0 must have shape {(values.shape[0], cell.state_size)}, got {tuple(start.shape)}"
        )
    with torch.no_grad():
        states, outputs = cell.rollout(u, start)
    return states.numpy(), outputs.numpy()


def newton_solve(
    model: RNNCell, x0: ArrayLike, u: ArrayLike, *, max_iters: int = 50, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``F(x, u) = x`` from many starts with a damped Newton iteration, in float64.

    Each iteration solves ``(J - 1) dx = -(F(x, u) - x)`` with the exact Jacobian ``J`` and
    halves the step (up to 10 times) until the residual norm decreases. For a piecewise-linear
    map (a ReLU network) the full step lands on the fixed point of the current linear piece,
    so a start inside the right piece converges in one step.

    Parameters
    ----------
    model : RNNCell
        The map (not modified; a float64 copy is used).
    x0 : array_like, shape (N, d)
        Starts.
    u : array_like, shape (N, m)
        Input held at each start.
    max_iters : int
        Newton iterations.
    tol : float
        Residual norm ``||F(x, u) - x||`` below which a start has converged.

    Returns
    -------
    x : ndarray, shape (N, d)
        Final iterates.
    residual : ndarray, shape (N,)
        ``||F(x, u) - x||`` at the final iterates.
    """
    cell = _float64_copy(model)
    x = torch.as_tensor(np.asarray(x0, dtype=np.float64)).clone()
    inputs = torch.as_tensor(np.asarray(u, dtype=np.float64))
    if x.ndim != 2 or x.shape[1] != cell.state_size or inputs.shape != (len(x), cell.input_size):
        raise ValueError(
            f"x0 must have shape (N, {cell.state_size}) and u shape (N, {cell.input_size}), "
            f"got {tuple(x.shape)} and {tuple(inputs.shape)}"
        )

    def residual(states: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        return cell.step(states, inputs[where]) - states

    def single(state: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return cell.step(state[None], value[None])[0]

    jacobian = torch.func.vmap(torch.func.jacrev(single))
    identity = torch.eye(cell.state_size, dtype=torch.float64)
    everyone = torch.arange(len(x))
    with torch.no_grad():
        g = residual(x, everyone)
    norm = g.norm(dim=1)
    for _ in range(max_iters):
        live = torch.nonzero(norm >= tol).flatten()
        if len(live) == 0:
            break
        with torch.no_grad():
            matrix = jacobian(x[live], inputs[live]) - identity
            step = torch.linalg.lstsq(matrix, -g[live, :, None]).solution[..., 0]
            scale = torch.ones(len(live), dtype=torch.float64)
            for _ in range(10):
                trial = x[live] + scale[:, None] * step
                trial_g = residual(trial, live)
                better = trial_g.norm(dim=1) < norm[live]
                if bool(better.all()):
                    break
                scale = torch.where(better, scale, scale / 2)
            accept = trial_g.norm(dim=1) < norm[live]
            rows = live[accept]
            x[rows], g[rows] = trial[accept], trial_g[accept]
            norm[rows] = trial_g[accept].norm(dim=1)
    return x.numpy(), norm.numpy()


def fixed_points_by_input(
    model: RNNCell,
    inputs: ArrayLike,
    *,
    n_steps: int = 334,
    n_per_input: int = 4,
    max_iters: int = 8,
    tol: float = 1e-10,
    tol_unique: float = 1e-3,
) -> FixedPoints:
    """Fixed points of a cell with the input held at each value, found with continuation.

    The inputs are taken in the given order. At each input, ``n_per_input`` states evenly
    spaced along the cell's trajectory from zero (``n_steps`` steps at that input) and the
    points converged at the previous input start :func:`newton_solve`. Converged points at the
    same input closer than ``tol_unique`` are merged (the one with the smaller residual is
    kept); each point is then linearised with exact Jacobians.

    Parameters
    ----------
    model : RNNCell
        The trained cell (not modified; the search runs on a float64 copy).
    inputs : array_like, shape (K, m), or (K,) for scalar input
        Input values, ordered along the continuation path (e.g. increasing current).
    n_steps : int
        Length of the trajectory that starts are taken from.
    n_per_input : int
        Trajectory starts per input.
    max_iters : int
        Newton iterations per input.
    tol : float
        Residual norm ``||F(x*, u) - x*||`` below which a start has converged
        (``tol_q = tol**2 / 2`` in the result).
    tol_unique : float
        Merging distance.

    Returns
    -------
    FixedPoints
        The unique fixed points, ``u`` telling at which input each was found, with their
        Jacobians and eigenvalues (sorted by modulus, largest first); the starts that did not
        converge are kept in the ``failed_*`` fields.
    """
    values = _inputs_2d(inputs, _check_model(model))
    if isinstance(n_per_input, bool) or not isinstance(n_per_input, int) or n_per_input < 1:
        raise ValueError(f"n_per_input must be a positive integer, got {n_per_input!r}")
    states, _ = rollout_float64(model, values, n_steps)
    picks = np.linspace(0, n_steps - 1, n_per_input).round().astype(int)
    finals, norms, start_inputs = [], [], []
    previous = np.empty((0, states.shape[-1]))
    for value, trajectory in zip(values, states, strict=True):
        starts = np.concatenate([trajectory[picks], previous])
        here = np.repeat(value[None], len(starts), axis=0)
        x, norm = newton_solve(model, starts, here, max_iters=max_iters, tol=tol)
        previous = x[norm < tol]
        finals.append(x)
        norms.append(norm)
        start_inputs.append(here)
    x_all, norm_all, u_all = map(np.concatenate, (finals, norms, start_inputs))
    return _characterise(model, x_all, u_all, norm_all, tol, tol_unique, max_iters)


def _characterise(
    model: RNNCell,
    x: np.ndarray,
    u: np.ndarray,
    norm: np.ndarray,
    tol: float,
    tol_unique: float,
    iterations: int,
) -> FixedPoints:
    """Merge the converged rows, linearise them and pack everything into FixedPoints."""
    converged = np.flatnonzero(norm < tol)
    kept: list[int] = []
    for index in converged[np.argsort(norm[converged], kind="stable")]:
        duplicate = any(
            np.array_equal(u[index], u[other])
            and np.linalg.norm(x[index] - x[other]) < tol_unique
            for other in kept
        )
        if not duplicate:
            kept.append(int(index))
    kept_rows = np.array(sorted(kept, key=lambda row: (tuple(u[row]), row)), dtype=int)
    d, m = x.shape[1], u.shape[1]
    if len(kept_rows):
        jacobian, jacobian_input = jacobians(model, x[kept_rows], u[kept_rows])
        eigenvalues, eigenvectors = np.linalg.eig(jacobian)
    else:
        jacobian, jacobian_input = np.empty((0, d, d)), np.empty((0, d, m))
        eigenvalues, eigenvectors = np.empty((0, d)), np.empty((0, d, d))
    order = np.argsort(-np.abs(eigenvalues), axis=1, kind="stable")
    failed = np.flatnonzero(norm >= tol)
    return FixedPoints(
        xstar=x[kept_rows],
        u=u[kept_rows],
        q=norm[kept_rows] ** 2 / 2,
        jacobian=jacobian,
        jacobian_input=jacobian_input,
        eigenvalues=np.take_along_axis(eigenvalues, order, axis=1),
        eigenvectors=np.take_along_axis(eigenvectors, order[:, None, :], axis=2),
        n_started=len(x),
        n_converged=len(converged),
        failed_x=x[failed],
        failed_u=u[failed],
        failed_q=norm[failed] ** 2 / 2,
        failed_index=failed,
        method="newton",
        linear_solver="dense",
        tol_q=tol**2 / 2,
        tol_unique=tol_unique,
        adam_iterations=0,
        newton_iterations=iterations,
    )


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
    x = torch.as_tensor(np.asarray(states, dtype=np.float64))
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
    path = np.asarray(trajectory, dtype=np.float64)
    point = np.asarray(center, dtype=np.float64)
    if path.ndim < 2 or point.shape[-1] != path.shape[-1]:
        raise ValueError(
            f"trajectory (..., T, n) and center (..., n) must agree in n, got shapes "
            f"{path.shape} and {point.shape}"
        )
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be finite and > 0, got {tol!r}")
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
    distance = np.asarray(initial_distance, dtype=np.float64)
    modulus = np.asarray(eigenvalue_modulus, dtype=np.float64)
    if not (distance > 0).all() or not (modulus > 1).all():
        raise ValueError("initial_distance must be > 0 and eigenvalue_modulus > 1")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be finite and > 0, got {tol!r}")
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
    a = np.asarray(estimate, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"estimate and reference must have one non-empty shape, got {a.shape} and {b.shape}"
        )
    difference = a - b
    mse = float(np.mean(difference**2))
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "max_abs": float(np.abs(difference).max())}


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
    values = np.asarray(eigenvalues, dtype=np.complex128)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and > 0, got {dt!r}")
    if (values == 0).any():
        raise ValueError("eigenvalues must be non-zero to take their logarithm")
    return np.log(values) / dt


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
    states = np.asarray(trajectories, dtype=np.float64)
    if states.ndim != 3:
        raise ValueError(f"trajectories must have shape (B, T, d), got {states.shape}")
    flat = states.reshape(-1, states.shape[-1])
    pca = PCA(n_components=n_components, svd_solver="full").fit(flat)
    projected = pca.transform(flat).reshape(*states.shape[:2], n_components)
    extra = None if points is None else pca.transform(np.asarray(points, dtype=np.float64))
    return projected, extra, pca.explained_variance_ratio_


def fixed_point_branch(
    model: RNNCell, inputs: ArrayLike, starts: ArrayLike, **options: Any
) -> FixedPoints:
    """One fixed point per input, followed along the inputs by continuation.

    First pass: ``starts[k]`` starts a search with the input held at ``inputs[k]``. Second
    pass: the same starts plus the points the first pass kept at the neighbouring inputs are
    searched again, so that a branch found at one input also seeds the next. At each input the
    point kept is the one nearest to ``starts[k]``.

    Parameters
    ----------
    model : RNNCell
        The trained cell (not modified; the engine searches a float64 copy).
    inputs : array_like, shape (K, m), or (K,) for scalar input
        Input values in continuation order (e.g. increasing current).
    starts : array_like, shape (K, d)
        One start per input, e.g. the encoded analytic fixed point.
    **options
        Passed to :func:`fhnrnn.fixedpoints.find_fixed_points` (``tol_q``, ``progress`` ...).

    Returns
    -------
    FixedPoints
        K points, ``result.u[k] == inputs[k]``.

    Raises
    ------
    RuntimeError
        When no fixed point is found at some input.
    """
    values = _inputs_2d(inputs, _check_model(model))
    x0 = np.asarray(starts, dtype=np.float64)
    if x0.shape != (values.shape[0], model.state_size):
        raise ValueError(
            f"starts must have shape {(values.shape[0], model.state_size)}, got {x0.shape}"
        )
    first = find_fixed_points(model, x0, values, **options)
    kept = _nearest_per_input(first, values, x0)
    extra_x, extra_u = [], []
    for index in range(len(values)):
        for neighbour in (index - 1, index + 1):
            if 0 <= neighbour < len(values) and kept[neighbour] >= 0:
                extra_x.append(first.xstar[kept[neighbour]])
                extra_u.append(values[index])
    second = find_fixed_points(
        model,
        np.concatenate([x0, np.reshape(extra_x, (-1, x0.shape[1]))]),
        np.concatenate([values, np.reshape(extra_u, (-1, values.shape[1]))]),
        **options,
    )
    chosen = _nearest_per_input(second, values, x0)
    if (chosen < 0).any():
        missing = values[chosen < 0, 0]
        raise RuntimeError(f"no fixed point found at inputs {missing.tolist()}")
    return second[chosen]


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
    values = np.asarray(eigenvalues, dtype=np.complex128)
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
    currents = np.asarray(inputs, dtype=np.float64)
    values = np.asarray(eigenvalues, dtype=np.complex128)
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
    values = np.asarray(signal, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError(f"signal must be a finite 1-D array, got shape {values.shape}")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and > 0, got {dt!r}")
    if isinstance(discard, bool) or not isinstance(discard, int):
        raise ValueError(f"discard must be an integer, got {discard!r}")
    if not 0 <= discard < values.size - 1:
        raise ValueError(f"discard must be an integer in [0, T - 2], got {discard!r}")
    values = values[discard:]
    low, high = float(values.min()), float(values.max())
    centred = values - 0.5 * (low + high)
    up = np.flatnonzero((centred[:-1] < 0) & (centred[1:] >= 0))
    if high - low < min_amplitude or up.size < 3:
        return float("nan"), low, high
    times = up + centred[up] / (centred[up] - centred[up + 1])
    return float(np.mean(np.diff(times)) * dt), low, high
