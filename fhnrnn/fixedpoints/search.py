"""The search from many starts: :func:`find_fixed_points` and its helpers."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from fhnrnn._validation import finite_positive, non_negative_int, positive_int, real_tensor
from fhnrnn.fixedpoints._inputs import check_size, path_inputs, prepare
from fhnrnn.fixedpoints._map import Map, all_jacobians, characterise, to_numpy
from fhnrnn.fixedpoints._solve import run_search, search_fields, tally_of
from fhnrnn.fixedpoints._unique import input_groups, unique_indices
from fhnrnn.fixedpoints.options import SearchOptions
from fhnrnn.fixedpoints.results import FixedPoints

__all__ = ["find_fixed_points", "find_fixed_points_at_inputs", "jacobians", "sample_states"]


def find_fixed_points(
    step: Any,
    x0: Any,
    u: Any = None,
    *,
    options: SearchOptions | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    noise_scale: float = 0.0,
    progress: bool = True,
    **settings: Any,
) -> FixedPoints:
    """Fixed points ``x* = F(x*, u)`` of a hidden-state map, searched from many starts at once.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        The map ``F(x (B, d), u (B, m)) -> (B, d)``, batched with independent rows, e.g. an
        RNN cell (:class:`torch.nn.Module`, which is deep-copied and converted to ``dtype`` and
        ``device``, never modified) or a plain function, which receives tensors in ``dtype``.
        A bare ``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` or ``*Cell`` is evaluated state first by
        :func:`fhnrnn.models.recurrent_step`. F must be differentiable in torch and leave its
        arguments unchanged.
    x0 : array or Tensor, shape (N, d)
        Starts (real and finite; NumPy arrays of any strides).
    u : array or Tensor, shape (N, m) or (m,), float, or None
        Input held constant during the search, one row per start or one for all; None for a
        map without input (m = 0).
    options : SearchOptions, optional
        Settings of the search (tolerances, method, iterations, linear solver); the defaults
        of :class:`SearchOptions` when omitted. With the default ``method="newton"``:
        ``warmup_iters`` Adam iterations, then damped Newton / Levenberg-Marquardt on
        ``F(x, u) - x`` with exact derivatives, polishing each converged point down to the
        rounding floor of q (about 1e-30 for states of order one in float64); a start whose q
        stops falling is given up. ``"adam"``: Adam on q alone, each start stopping once
        ``q < tol_q``. ``linear_solver="krylov"`` runs GMRES on Jacobian-vector products, a
        few dozen instead of d when the Jacobian has low effective rank (as for ReLU
        networks); the reported Jacobians are always computed in full.
    device : str or torch.device, optional
        Where to compute; defaults to the module's device, else that of ``x0``, else CPU.
    dtype : torch.dtype
        Precision of the search (float64 by default; q is reported in float64).
    seed : int
        Seed of the noise added to the starts (used only when ``noise_scale > 0``).
    noise_scale : float
        Standard deviation of Gaussian noise added to every start.
    progress : bool
        Show a tqdm progress bar.
    **settings
        Fields of :class:`SearchOptions` (``tol_q``, ``tol_unique``, ``max_iters``,
        ``method``, ``warmup_iters``, ``lr``, ``grad_clip``, ``linear_solver``), replacing
        those of ``options``.

    Returns
    -------
    FixedPoints
        Unique converged points with Jacobians and eigen-decompositions, plus the counts and
        final states of the starts that failed.

    Raises
    ------
    ValueError
        On bad options, starts or inputs of the wrong shape, not real or not finite, a device
        this machine lacks, or a step that fails on ``dtype`` tensors, returns the wrong shape
        or dtype, returns NaN at a start, writes into its arguments or cuts the gradient with
        respect to x (``.detach()``, ``torch.no_grad()``, numpy), which would give zero
        Jacobians.
    """
    settings = SearchOptions.resolve(options, settings)
    fn, x, inputs, work_device = prepare(
        step, x0, u, device=device, dtype=dtype, noise_scale=noise_scale, seed=seed
    )
    problem = Map(fn, dtype, work_device, x.shape[1], settings.solver_for(x.shape[1]))
    problem.check(x, inputs)
    outcome = run_search(problem, x, inputs, settings, progress)
    converged = outcome.converged
    x_conv, u_conv, q_conv = outcome.x[converged], inputs[converged], outcome.q[converged]
    keep = unique_indices(x_conv[:, None, :], input_groups(u_conv), q_conv, settings.tol_unique)
    return FixedPoints(
        xstar=to_numpy(x_conv[keep]),
        u=to_numpy(u_conv[keep]),
        q=to_numpy(q_conv[keep]),
        **characterise(problem, x_conv[keep], u_conv[keep]),
        **search_fields(tally_of(outcome, inputs), settings, problem, outcome.adam_iterations),
    )


def find_fixed_points_at_inputs(
    step: Any,
    states: Any,
    inputs: Any,
    n_per_input: int,
    *,
    noise_scale: float = 0.0,
    seed: int = 0,
    **options: Any,
) -> FixedPoints:
    """Search with the input held at each of several values, from the same sampled starts.

    ``n_per_input`` starts are drawn once from ``states`` (see :func:`sample_states`) and
    searched at every input value, all in one batch of ``K * n_per_input`` starts. Points are
    merged only with points found at exactly the same input.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        As in :func:`find_fixed_points`.
    states : array or Tensor, shape (B, T, d) or (N, d)
        Hidden states to draw starts from (e.g. trajectories of the trained network).
    inputs : array or Tensor, shape (K, m), or (K,) for K scalar inputs
        Input values to search at.
    n_per_input : int
        Starts per input value.
    noise_scale : float
        Standard deviation of the Gaussian noise added to the drawn starts.
    seed : int
        Seed of the draw.
    **options
        Passed to :func:`find_fixed_points` (``tol_q``, ``method``, ``max_iters``, ...).

    Returns
    -------
    FixedPoints
        Unique fixed points over all inputs; ``u`` says at which input each was found.
    """
    values = path_inputs(inputs)
    check_size(step, values.shape[1], "inputs", "input")
    starts = _draw_states(states, n_per_input, noise_scale, seed, ("states", "n_per_input"))
    check_size(step, starts.shape[1], "states", "state")
    starts = to_numpy(torch.as_tensor(starts))
    x0 = np.tile(starts, (values.shape[0], 1))
    u = np.repeat(values, n_per_input, axis=0)
    return find_fixed_points(step, x0, u, **options)


def sample_states(
    trajectories: Any, n: int, noise_scale: float = 0.0, seed: int = 0
) -> np.ndarray | Tensor:
    """Starting states drawn from hidden-state trajectories, plus Gaussian noise.

    States are drawn without replacement when ``n`` does not exceed the number of available
    states, with replacement otherwise.

    Parameters
    ----------
    trajectories : array or Tensor, shape (B, T, d) or (N, d)
        Hidden states, e.g. ``states`` from a model's ``rollout``.
    n : int
        Number of states to draw (>= 1).
    noise_scale : float
        Standard deviation of the isotropic Gaussian noise added to each drawn state.
    seed : int
        Seed of the draw and of the noise (numpy Generator).

    Returns
    -------
    ndarray or Tensor, shape (n, d), float64
        A Tensor (on the trajectories' device) when given a Tensor, else an ndarray.
    """
    return _draw_states(trajectories, n, noise_scale, seed, ("trajectories", "n"))


def _draw_states(
    trajectories: Any, n: int, noise_scale: float, seed: int, names: tuple[str, str]
) -> np.ndarray | Tensor:
    """:func:`sample_states`, naming the trajectories and the count ``names`` in errors."""
    is_tensor = isinstance(trajectories, Tensor)
    device = trajectories.device if is_tensor else torch.device("cpu")
    given = real_tensor(trajectories, names[0], torch.float64, device)
    if given.ndim not in (2, 3) or given.numel() == 0:
        raise ValueError(
            f"{names[0]} must have shape (B, T, d) or (N, d) with at least one state, got "
            f"{tuple(given.shape)}"
        )
    flat = given.reshape(-1, given.shape[-1])
    if not bool(torch.isfinite(flat).all()):
        raise ValueError(f"{names[0]} hold non-finite values (NaN or inf)")
    n = positive_int(n, names[1])
    noise_scale = finite_positive(noise_scale, "noise_scale", allow_zero=True)
    rng = np.random.default_rng(non_negative_int(seed, "seed"))
    index = rng.choice(flat.shape[0], size=int(n), replace=bool(n > flat.shape[0]))
    noise = rng.standard_normal((int(n), flat.shape[1])) * noise_scale
    drawn = flat[torch.as_tensor(index, device=device)] + torch.as_tensor(noise, device=device)
    return drawn if is_tensor else drawn.numpy()


def jacobians(
    step: Any,
    x: Any,
    u: Any = None,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Jacobians of the map at given states, computed exactly with :mod:`torch.func`.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        As in :func:`find_fixed_points`.
    x : array or Tensor, shape (N, d)
        States.
    u : array or Tensor, shape (N, m) or (m,), float, or None
        Inputs.
    device, dtype
        As in :func:`find_fixed_points`.

    Returns
    -------
    jacobian : ndarray, shape (N, d, d)
        ``dF/dx``.
    jacobian_input : ndarray, shape (N, d, m)
        ``dF/du``.
    """
    problem, states, inputs = _checked_map(step, x, u, device, dtype)
    jac_x, jac_u = all_jacobians(problem, states, inputs)
    return to_numpy(jac_x), to_numpy(jac_u)


def linearise(
    step: Any,
    x: Any,
    u: Any = None,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
) -> dict[str, np.ndarray]:
    """Jacobians and eigen-decompositions at given states, as a search characterises its points.

    Parameters
    ----------
    step, x, u, device, dtype
        As in :func:`jacobians`.

    Returns
    -------
    dict
        ``jacobian`` (N, d, d), ``jacobian_input`` (N, d, m), ``eigenvalues`` (N, d) sorted by
        modulus, largest first, and ``eigenvectors`` (N, d, d): the per-point fields of
        :class:`~fhnrnn.fixedpoints.FixedPoints` other than ``xstar``, ``u`` and ``q``.
    """
    problem, states, inputs = _checked_map(step, x, u, device, dtype)
    return characterise(problem, states, inputs)


def _checked_map(
    step: Any, x: Any, u: Any, device: str | torch.device | None, dtype: torch.dtype
) -> tuple[Map, Tensor, Tensor]:
    """The map of ``step`` with the checked states and inputs, for evaluations at given points."""
    fn, states, inputs, work_device = prepare(
        step, x, u, device=device, dtype=dtype, noise_scale=0.0, seed=0, names=("x", "u")
    )
    problem = Map(fn, dtype, work_device, states.shape[1])
    problem.check(states, inputs)
    return problem, states, inputs
