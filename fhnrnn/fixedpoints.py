"""The Sussillo & Barak fixed-point engine.

A recurrent network's hidden state evolves by a map ``x_{t+1} = F(x_t, u)``. Its fixed points
``x* = F(x*, u)`` are the minima with value zero of

    q(x) = 1/2 ||F(x, u) - x||^2,

and the eigenvalues of the Jacobian ``dF/dx`` at ``x*`` say how the network behaves near them.

:func:`find_fixed_points` searches from many starts at once, each start with its own input.
Its default method follows a short Adam descent on ``q`` with damped Newton /
Levenberg-Marquardt steps on the residual ``r(x) = F(x, u) - x`` in float64, so that it
reaches ``q`` near the rounding floor (about 1e-30 for states of order one; on ReLU networks,
whose map is linear inside each activation region, a Newton step that stays in its region
lands on the exact fixed point). The Newton systems ``J_r dx = -r`` are solved either with
the dense Jacobian (vmapped reverse mode, Householder QR) or matrix-free by GMRES on
Jacobian-vector products (double reverse mode), which needs a few dozen products where the
dense Jacobian needs d. ``method="adam"`` is the gradient-only procedure of the original
study and of Golub & Sussillo's FixedPointFinder, kept for comparison. :func:`find_cycles`
finds periodic orbits as fixed points of the k-fold map; :func:`sample_states` draws starts
from hidden-state trajectories.

Results come back as :class:`FixedPoints` (or :class:`Cycles`): numpy arrays, saved as
``.npz`` without pickle.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from fhnrnn._paths import atomic_write_bytes
from fhnrnn._progress import progress_bar
from fhnrnn._validation import finite_positive, non_negative_int, positive_int

__all__ = [
    "Cycles",
    "FixedPoints",
    "find_cycles",
    "find_fixed_points",
    "find_fixed_points_along",
    "find_fixed_points_at_inputs",
    "jacobians",
    "sample_states",
]

StepFunction = Callable[[Tensor, Tensor], Tensor]
Method = Literal["newton", "adam"]
LinearSolver = Literal["auto", "dense", "krylov"]

# Status of a start during the search.
_ACTIVE, _POLISH, _DONE, _FAILED = 0, 1, 2, 3

_FILE_FORMAT = 1
# Jacobian entries held at once, per chunk of points (float64: 64 MiB on CPU, 512 MiB on GPU).
_JACOBIAN_BUDGET_CPU, _JACOBIAN_BUDGET_ACCELERATOR = 2**23, 2**26
_DEDUP_BLOCK = 1024
# Adam (both methods).
_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
_LR_GROW, _LR_SHRINK, _LR_MIN = 1.05, 0.7, 1e-12
_CHECK_EVERY = 50
# Newton / Levenberg-Marquardt.
_MU_INIT, _MU_MIN, _MU_MAX = 1e-3, 1e-12, 1e12
_MU_UP, _MU_DOWN = 10.0, 10.0
_LM_TRIES = 8
_POLISH_GAIN = 0.1
_CHORD_STEPS = 3
_FLOOR_ULPS = 16.0
_KRYLOV_RTOL, _KRYLOV_MAX_DIM = 1e-13, 100
_LM_DIRECTIONS = 10
_DENSE_UP_TO = 128  # "auto": dense Jacobians up to this state dimension, Krylov above
_STALL_WINDOW, _STALL_RATIO, _STALL_MU, _CRAWL_RATIO = 5, 0.5, 1e-2, 0.9


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FixedPoints:
    """Unique fixed points of a map ``x -> F(x, u)`` and how the search that found them went.

    Per-point fields (K points, state dimension d, input dimension m) are indexed together by
    ``fps[mask]`` or ``fps[indices]``; the search fields (counts, failed starts, settings)
    describe the whole search and are carried unchanged into every subset.

    Attributes
    ----------
    xstar : ndarray, shape (K, d)
        Fixed points.
    u : ndarray, shape (K, m)
        Input held constant at each fixed point.
    q : ndarray, shape (K,)
        ``1/2 ||F(x*, u) - x*||^2`` in float64.
    jacobian : ndarray, shape (K, d, d)
        ``dF/dx`` at each fixed point.
    jacobian_input : ndarray, shape (K, d, m)
        ``dF/du`` at each fixed point.
    eigenvalues : ndarray of complex, shape (K, d)
        Eigenvalues of ``jacobian``, sorted by modulus, largest first.
    eigenvectors : ndarray of complex, shape (K, d, d)
        Unit eigenvectors; column ``eigenvectors[k, :, i]`` belongs to ``eigenvalues[k, i]``.
    n_started : int
        Number of starts searched (for :func:`find_fixed_points_along`: of searches, the
        starts and every continuation step).
    n_converged : int
        Starts (searches) that reached ``q < tol_q`` (before merging duplicates).
    failed_x : ndarray, shape (F, d)
        Final states of the ``F = n_started - n_converged`` starts that did not converge
        (slow points, stalled or diverged starts); may hold non-finite values.
    failed_u : ndarray, shape (F, m)
        Their inputs.
    failed_q : ndarray, shape (F,)
        Their final ``q`` (inf or NaN for diverged starts).
    failed_index : ndarray of int, shape (F,)
        Their rows in the search's ``x0`` (for :func:`find_fixed_points_along`: their
        positions in the sequence of searches, whose first N rows are ``x0``).
    method : str
        ``"newton"`` or ``"adam"``.
    linear_solver : str
        How the Newton steps were solved: ``"dense"`` or ``"krylov"``; ``"none"`` for Adam.
    tol_q, tol_unique : float
        Convergence and merging tolerances of the search.
    adam_iterations, newton_iterations : int
        Iterations of each phase the search ran (the slowest start's count).
    """

    xstar: np.ndarray
    u: np.ndarray
    q: np.ndarray
    jacobian: np.ndarray
    jacobian_input: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_started: int
    n_converged: int
    failed_x: np.ndarray
    failed_u: np.ndarray
    failed_q: np.ndarray
    failed_index: np.ndarray
    method: str
    linear_solver: str
    tol_q: float
    tol_unique: float
    adam_iterations: int
    newton_iterations: int

    _POINT_FIELDS: ClassVar[dict[str, Any]] = {
        "xstar": np.float64,
        "u": np.float64,
        "q": np.float64,
        "jacobian": np.float64,
        "jacobian_input": np.float64,
        "eigenvalues": np.complex128,
        "eigenvectors": np.complex128,
    }
    _SEARCH_ARRAYS: ClassVar[dict[str, Any]] = {
        "failed_x": np.float64,
        "failed_u": np.float64,
        "failed_q": np.float64,
        "failed_index": np.int64,
    }
    _SEARCH_SCALARS: ClassVar[dict[str, type]] = {
        "n_started": int,
        "n_converged": int,
        "method": str,
        "linear_solver": str,
        "tol_q": float,
        "tol_unique": float,
        "adam_iterations": int,
        "newton_iterations": int,
    }

    def __post_init__(self) -> None:
        for name, dtype in {**self._POINT_FIELDS, **self._SEARCH_ARRAYS}.items():
            object.__setattr__(self, name, np.array(getattr(self, name), dtype=dtype))
        for name, kind in self._SEARCH_SCALARS.items():
            object.__setattr__(self, name, kind(getattr(self, name)))
        self._check_shapes()

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        k, d = self.xstar.shape if self.xstar.ndim == 2 else (-1, -1)
        m = self.u.shape[1] if self.u.ndim == 2 else -1
        n_failed = self.n_started - self.n_converged
        return {
            "xstar": (k, d),
            "u": (k, m),
            "q": (k,),
            "jacobian": (k, d, d),
            "jacobian_input": (k, d, m),
            "eigenvalues": (k, d),
            "eigenvectors": (k, d, d),
            "failed_x": (n_failed, d),
            "failed_u": (n_failed, m),
            "failed_q": (n_failed,),
            "failed_index": (n_failed,),
        }

    def _check_shapes(self) -> None:
        if self.xstar.ndim != 2 or self.u.ndim != 2:
            raise ValueError(
                f"xstar and u must be 2-D (K, d) and (K, m), got shapes {self.xstar.shape} "
                f"and {self.u.shape}"
            )
        for name, shape in self._expected_shapes().items():
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {getattr(self, name).shape}")
        if not 0 <= len(self) <= self.n_converged <= self.n_started:
            raise ValueError(
                "counts must satisfy 0 <= n_unique <= n_converged <= n_started, got "
                f"{len(self)}, {self.n_converged}, {self.n_started}"
            )

    def __len__(self) -> int:
        return self.xstar.shape[0]

    def __getitem__(self, key: int | slice | np.ndarray | list[int] | list[bool]) -> FixedPoints:
        """Subset of the points: integer, slice, integer array or boolean mask of shape (K,)."""
        if isinstance(key, (int, np.integer)):
            key = [int(key)]
        subset = {name: getattr(self, name)[key] for name in self._POINT_FIELDS}
        return dataclasses.replace(self, **subset)

    @property
    def n_unique(self) -> int:
        """Number K of unique fixed points held."""
        return len(self)

    @property
    def n_failed(self) -> int:
        """Number of starts that did not converge."""
        return self.n_started - self.n_converged

    @property
    def state_size(self) -> int:
        """State dimension d."""
        return self.xstar.shape[1]

    @property
    def input_size(self) -> int:
        """Input dimension m."""
        return self.u.shape[1]

    @property
    def n_unstable(self) -> np.ndarray:
        """Number of eigenvalues with modulus above 1 (saddle index), shape (K,)."""
        return (np.abs(self.eigenvalues) > 1.0).sum(axis=1)

    @property
    def is_stable(self) -> np.ndarray:
        """True where every eigenvalue has modulus below 1, shape (K,)."""
        return (np.abs(self.eigenvalues) < 1.0).all(axis=1)

    def _describe_points(self) -> str:
        return "fixed points"

    def summary(self, max_rows: int = 10) -> str:
        """A readable account of the search and of up to ``max_rows`` points (lowest q first).

        Parameters
        ----------
        max_rows : int
            Number of points listed individually.

        Returns
        -------
        str
        """
        lines = [
            f"{type(self).__name__}: {len(self)} unique {self._describe_points()} of a "
            f"{self.state_size}-d map with {self.input_size}-d input",
            f"search: method={self.method} ({self.linear_solver}), {self.n_started} starts, "
            f"{self.n_converged} "
            f"converged (q < {self.tol_q:.0e}), {self.n_failed} failed; "
            f"{self.adam_iterations} Adam + {self.newton_iterations} Newton iterations",
        ]
        if self.n_failed:
            finite = self.failed_q[np.isfinite(self.failed_q)]
            lowest = f"{finite.min():.2e}" if finite.size else "none finite"
            lines.append(
                f"failed starts: {self.n_failed} ({self.n_failed - finite.size} diverged), "
                f"lowest q {lowest}"
            )
        if len(self) == 0:
            return "\n".join(lines)
        lines.append(
            f"q: max {self.q.max():.2e}, median {np.median(self.q):.2e}; "
            f"{int(self.is_stable.sum())} stable, {int((~self.is_stable).sum())} not stable"
        )
        lines.append(f"{'#':>4}  {'q':>9}  {'|lambda_1|':>10}  {'unstable':>8}  u")
        for index in np.argsort(self.q, kind="stable")[:max_rows]:
            modulus = np.abs(self.eigenvalues[index, 0])
            inputs = np.array2string(self.u[index], precision=4, separator=", ")
            lines.append(
                f"{index:>4}  {self.q[index]:9.2e}  {modulus:10.4f}  "
                f"{self.n_unstable[index]:>8}  {inputs}"
            )
        if len(self) > max_rows:
            lines.append(f"   ... {len(self) - max_rows} more")
        return "\n".join(lines)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write every field to an ``.npz`` file (no pickle), atomically.

        Parameters
        ----------
        path : str or Path
            Destination, ending in ``.npz``.
        overwrite : bool
            Replace an existing file; without it an existing file raises FileExistsError.

        Returns
        -------
        Path
            The file written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path must end in '.npz', got {str(path)!r}")
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
        arrays: dict[str, np.ndarray] = {
            "kind": np.array(type(self).__name__),
            "format": np.array(_FILE_FORMAT),
        }
        for name in (*self._POINT_FIELDS, *self._SEARCH_ARRAYS, *self._SEARCH_SCALARS):
            arrays[name] = np.asarray(getattr(self, name))
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    @classmethod
    def load(cls, path: str | Path) -> FixedPoints:
        """Read a file written by :meth:`save`.

        Parameters
        ----------
        path : str or Path
            An ``.npz`` file written by :meth:`save`.

        Returns
        -------
        FixedPoints or Cycles
            The class recorded in the file (which must be ``cls`` or a subclass of it).
        """
        with np.load(Path(path), allow_pickle=False) as data:
            if "kind" not in data.files or "format" not in data.files:
                raise ValueError(f"{path} was not written by FixedPoints.save")
            kind, version = str(data["kind"]), int(data["format"])
            target = _RESULT_CLASSES.get(kind)
            if target is None or not issubclass(target, cls):
                raise ValueError(f"{path} holds {kind!r}, not {cls.__name__}")
            if version != _FILE_FORMAT:
                raise ValueError(f"{path} has file format {version}, expected {_FILE_FORMAT}")
            values: dict[str, Any] = {
                name: data[name] for name in (*target._POINT_FIELDS, *target._SEARCH_ARRAYS)
            }
            for name, convert in target._SEARCH_SCALARS.items():
                values[name] = convert(data[name].item())
        return target(**values)


@dataclass(frozen=True, eq=False)
class Cycles(FixedPoints):
    """Unique periodic orbits of period ``period``: fixed points of the k-fold map.

    The inherited fields describe the k-fold map ``G = F o ... o F`` (k times) at one point
    of each orbit: ``xstar`` is that point, ``q`` is ``1/2 ||G(x) - x||^2``, ``jacobian`` is
    the monodromy matrix ``J(x_{k-1}) ... J(x_1) J(x_0)`` (the product of the one-step
    Jacobians around the orbit), ``jacobian_input`` is ``dG/du`` and ``eigenvalues`` are the
    Floquet multipliers (``is_stable``: every multiplier inside the unit circle).

    Attributes
    ----------
    orbit : ndarray, shape (K, k, d)
        The orbit's states ``x_0 = xstar, x_1 = F(x_0, u), ..., x_{k-1}``.
    minimal_period : ndarray of int, shape (K,)
        Smallest p dividing k with ``||x_p - x_0|| <= tol_unique`` (k when none): a fixed
        point of F found by a 2-cycle search has minimal period 1.
    period : int
        The period k searched for.
    """

    orbit: np.ndarray
    minimal_period: np.ndarray
    period: int

    _POINT_FIELDS: ClassVar[dict[str, Any]] = {
        **FixedPoints._POINT_FIELDS,
        "orbit": np.float64,
        "minimal_period": np.int64,
    }
    _SEARCH_SCALARS: ClassVar[dict[str, type]] = {**FixedPoints._SEARCH_SCALARS, "period": int}

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = super()._expected_shapes()
        k, d = shapes["xstar"]
        shapes["orbit"] = (k, self.period, d)
        shapes["minimal_period"] = (k,)
        return shapes

    def _describe_points(self) -> str:
        return f"{self.period}-cycles"


_RESULT_CLASSES: dict[str, type[FixedPoints]] = {"FixedPoints": FixedPoints, "Cycles": Cycles}


# --------------------------------------------------------------------------------------
# The map: resolving `step`, checked evaluation, Jacobians
# --------------------------------------------------------------------------------------


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _resolve_step(
    step: Any, dtype: torch.dtype, device: torch.device | None, fallback: torch.device
) -> tuple[StepFunction, torch.device]:
    """The callable to evaluate and the device to work on.

    An nn.Module (or a bound method of one) is deep-copied, converted to ``dtype`` and
    ``device``, frozen and put in eval mode, so the user's model is never touched.
    """
    module, method_name = None, None
    if isinstance(step, torch.nn.Module):
        module = step
        method_name = "step" if callable(getattr(step, "step", None)) else None
    elif inspect.ismethod(step) and isinstance(step.__self__, torch.nn.Module):
        module, method_name = step.__self__, step.__name__
    if module is not None:
        device = device or _module_device(module)
        clone = copy.deepcopy(module).to(device=device, dtype=dtype)
        clone.requires_grad_(False)
        clone.eval()
        return (getattr(clone, method_name) if method_name else clone), device
    if callable(getattr(step, "step", None)):
        return step.step, device or fallback
    if callable(step):
        return step, device or fallback
    raise ValueError(
        "step must be a callable (x (B, d), u (B, m)) -> (B, d) or an object with such a "
        f".step method, got {type(step).__name__}"
    )


class _Map:
    """``F(x, u)`` in one dtype on one device, with ``q`` and batched Jacobians."""

    def __init__(
        self,
        fn: StepFunction,
        dtype: torch.dtype,
        device: torch.device,
        d: int,
        solver: str = "dense",
    ):
        self.fn = fn
        self.dtype = dtype
        self.device = device
        self.d = d
        self.solver = solver
        self.krylov_dim = min(d, _KRYLOV_MAX_DIM)
        cpu = device.type == "cpu"
        self.budget = _JACOBIAN_BUDGET_CPU if cpu else _JACOBIAN_BUDGET_ACCELERATOR
        self.chunk = max(1, self.budget // (d * d))
        self._vmap_works = True

    @property
    def newton_chunk(self) -> int:
        """Points per chunk in the Newton phase: what the linear model's storage allows."""
        if self.solver == "krylov":
            return max(1, self.budget // ((self.krylov_dim + 2) * self.d))
        return self.chunk

    def check(self, x: Tensor, u: Tensor) -> None:
        """Evaluate F at every start; raise ValueError on an error, wrong shape or NaN."""
        for rows in torch.arange(x.shape[0], device=self.device).split(self.chunk * 16):
            self._checked_call(x[rows], u[rows], first_row=int(rows[0]))

    def _checked_call(self, x: Tensor, u: Tensor, first_row: int) -> None:
        try:
            with torch.no_grad():
                out = self.fn(x, u)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"step(x, u) failed for x of shape {tuple(x.shape)} and u of shape "
                f"{tuple(u.shape)}, both {self.dtype} on {self.device}: {err}. step must accept "
                f"two batched tensors in {self.dtype}; an nn.Module (or a bound method of one) "
                "is converted automatically, a plain function must not hold tensors of another "
                "dtype or device (or pass dtype= to search in theirs)"
            ) from err
        if not isinstance(out, Tensor) or out.shape != x.shape:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"step must return a tensor of shape {tuple(x.shape)}, got {shape}")
        if out.dtype != self.dtype:
            raise ValueError(
                f"step returned dtype {out.dtype} for input of dtype {self.dtype}; it must "
                "compute in the dtype it is given"
            )
        bad = ~torch.isfinite(out).all(dim=1)
        if bool(bad.any()):
            rows = (bad.nonzero().squeeze(1)[:5] + first_row).tolist()
            raise ValueError(
                f"step returned non-finite values (NaN or inf) at {int(bad.sum())} finite "
                f"start(s), e.g. rows {rows} of x0"
            )

    def evaluate(self, x: Tensor, u: Tensor) -> Tensor:
        """``F(x, u)`` without building a graph, shape (n, d)."""
        with torch.no_grad():
            return self.fn(x, u)

    def linearise(self, x: Tensor, u: Tensor) -> tuple[Tensor, _Linearisation]:
        """``F(x, u)`` (n, d) and products with ``dF/dx`` and its transpose, row by row.

        Jacobian-vector products by double reverse mode: ``g(w) = (dF/dx)^T w`` is built
        once, with its graph, and is linear in w, so the gradient of ``<g(w), v>`` with
        respect to w is ``(dF/dx) v``. Each product then costs about one evaluation of F,
        several times less than ``torch.func.jvp``, and needs nothing beyond reverse mode.
        """
        with torch.enable_grad():
            state = x.detach().requires_grad_(True)
            out = self.fn(state, u)
            dummy = torch.zeros_like(out, requires_grad=True)
            (pulled,) = torch.autograd.grad(out, state, dummy, create_graph=True)
        return out.detach(), _Linearisation(out, state, pulled, dummy)

    def q(self, x: Tensor, u: Tensor) -> Tensor:
        """``1/2 ||F(x, u) - x||^2`` per point, shape (n,)."""
        return _half_squared_norm(self.evaluate(x, u) - x)

    def q_and_gradient(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """``q`` (n,) and its gradient with respect to x (n, d)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            q = _half_squared_norm(self.fn(x, u) - x)
            (gradient,) = torch.autograd.grad(q.sum(), x)
        return q.detach(), gradient

    def jacobians(
        self, x: Tensor, u: Tensor, *, with_input: bool = False
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """``F(x, u)`` (n, d), ``dF/dx`` (n, d, d) and, if asked, ``dF/du`` (n, d, m).

        One reverse pass for the whole batch, then its pull-back vmapped over the d output
        directions: since each row of the batch depends only on its own x and u, the
        pull-back of the i-th unit vector (repeated over the batch) gives row i of every
        point's Jacobian. A step that vmap cannot handle falls back to a loop over the d
        output directions (never over points).
        """
        if self._vmap_works:
            try:
                return self._jacobians_vmap(x, u, with_input)
            except Exception as err:  # vmap rejects some ops; the loop below handles them
                self._vmap_works = False
                warnings.warn(
                    f"step does not run under torch.func (vjp + vmap): {type(err).__name__}: "
                    f"{err}; computing Jacobians with a loop over output dimensions instead",
                    RuntimeWarning,
                    stacklevel=3,
                )
        return self._jacobians_loop(x, u, with_input)

    def _output_basis(self, n: int) -> Tensor:
        eye = torch.eye(self.d, dtype=self.dtype, device=self.device)
        return eye[:, None, :].expand(self.d, n, self.d)

    def _jacobians_vmap(
        self, x: Tensor, u: Tensor, with_input: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        basis = self._output_basis(x.shape[0])
        if with_input:
            out, pullback = torch.func.vjp(self.fn, x, u)
            rows_x, rows_u = torch.func.vmap(pullback)(basis)
            return out.detach(), rows_x.transpose(0, 1).detach(), rows_u.transpose(0, 1).detach()
        out, pullback = torch.func.vjp(lambda state: self.fn(state, u), x)
        (rows_x,) = torch.func.vmap(pullback)(basis)
        return out.detach(), rows_x.transpose(0, 1).detach(), None

    def _jacobians_loop(
        self, x: Tensor, u: Tensor, with_input: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            u = u.detach().requires_grad_(with_input)
            inputs = (x, u) if with_input else (x,)
            out = self.fn(x, u)
            rows: list[tuple[Tensor, ...]] = []
            for i in range(self.d):
                grads = torch.autograd.grad(
                    out[:, i].sum(), inputs, retain_graph=True, allow_unused=True
                )
                pairs = zip(grads, inputs, strict=True)
                rows.append(tuple(torch.zeros_like(t) if g is None else g for g, t in pairs))
        jac_x = torch.stack([row[0] for row in rows], dim=1)
        jac_u = torch.stack([row[1] for row in rows], dim=1) if with_input else None
        return out.detach(), jac_x, jac_u


@dataclass
class _Linearisation:
    """Products with the Jacobian of ``out = F(state)`` (see :meth:`_Map.linearise`)."""

    out: Tensor
    state: Tensor
    pulled: Tensor  # (dF/dx)^T dummy, with its graph
    dummy: Tensor

    def times(self, v: Tensor) -> Tensor:
        """``(dF/dx) v`` row by row, shape (n, d)."""
        with torch.enable_grad():
            (pushed,) = torch.autograd.grad(self.pulled, self.dummy, v, retain_graph=True)
        return pushed.detach()

    def transpose_times(self, w: Tensor) -> Tensor:
        """``(dF/dx)^T w`` row by row, shape (n, d)."""
        with torch.enable_grad():
            (pulled,) = torch.autograd.grad(self.out, self.state, w, retain_graph=True)
        return pulled.detach()


def _half_squared_norm(r: Tensor) -> Tensor:
    return 0.5 * (r * r).sum(dim=-1)


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _to_tensor(value: Any, name: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    if isinstance(value, Tensor):
        if value.is_complex():
            raise ValueError(f"{name} must be real, got a complex tensor")
        return value.detach().to(device=device, dtype=dtype).clone()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be a real numeric array, got {type(value).__name__}"
        ) from err
    return torch.as_tensor(array).to(device=device, dtype=dtype)


def _check_starts(x0: Any, dtype: torch.dtype, device: torch.device) -> Tensor:
    x = _to_tensor(x0, "x0", dtype, device)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"x0 must hold starts as a 2-D array of shape (N, d) with N, d >= 1, "
            f"got shape {tuple(x.shape)}"
        )
    bad = ~torch.isfinite(x).all(dim=1)
    if bool(bad.any()):
        rows = bad.nonzero().squeeze(1)[:5].tolist()
        raise ValueError(
            f"x0 holds {int(bad.sum())} non-finite start(s) (NaN or inf), e.g. rows {rows}"
        )
    return x


def _check_inputs(u: Any, n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Inputs of shape (N, m): None -> (N, 0), a scalar -> (N, 1), (m,) -> broadcast."""
    if u is None:
        return torch.zeros(n, 0, dtype=dtype, device=device)
    inputs = _to_tensor(u, "u", dtype, device)
    if inputs.ndim == 0:
        inputs = inputs.reshape(1)
    if inputs.ndim == 1:
        inputs = inputs.expand(n, inputs.shape[0]).clone()
    if inputs.ndim != 2 or inputs.shape[0] != n:
        raise ValueError(
            f"u must have shape (N, m) with N = {n} rows like x0, or (m,) to use the same input "
            f"for every start; got shape {tuple(inputs.shape)}"
        )
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError("u holds non-finite values (NaN or inf)")
    return inputs


@dataclass(frozen=True)
class _Settings:
    method: Method
    tol_q: float
    tol_unique: float
    max_iters: int
    warmup_iters: int
    lr: float
    grad_clip: float
    linear_solver: LinearSolver

    def solver_for(self, d: int) -> str:
        """The Newton linear solver for state dimension d."""
        if self.linear_solver == "auto":
            return "krylov" if d > _DENSE_UP_TO else "dense"
        return self.linear_solver


def _settings(
    method: str,
    tol_q: float,
    tol_unique: float,
    max_iters: int | None,
    warmup_iters: int,
    lr: float,
    grad_clip: float,
    linear_solver: str,
) -> _Settings:
    if method not in ("newton", "adam"):
        raise ValueError(f"method must be 'newton' or 'adam', got {method!r}")
    if linear_solver not in ("auto", "dense", "krylov"):
        raise ValueError(
            f"linear_solver must be 'auto', 'dense' or 'krylov', got {linear_solver!r}"
        )
    if max_iters is None:
        max_iters = 100 if method == "newton" else 10_000
    return _Settings(
        method,
        finite_positive(tol_q, "tol_q"),
        finite_positive(tol_unique, "tol_unique", allow_zero=True),
        non_negative_int(max_iters, "max_iters"),
        non_negative_int(warmup_iters, "warmup_iters"),
        finite_positive(lr, "lr"),
        finite_positive(grad_clip, "grad_clip"),
        linear_solver,
    )


def _add_noise(x: Tensor, noise_scale: float, seed: int) -> Tensor:
    if noise_scale == 0.0:
        return x
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    return x + noise_scale * noise.to(device=x.device, dtype=x.dtype)


# --------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    x: Tensor  # (N, d) final states
    q: Tensor  # (N,) q at the final states
    converged: Tensor  # (N,) bool
    adam_iterations: int
    newton_iterations: int


def _search(problem: _Map, x: Tensor, u: Tensor, settings: _Settings, progress: bool) -> _Outcome:
    adam_budget = settings.max_iters if settings.method == "adam" else settings.warmup_iters
    newton_budget = settings.max_iters if settings.method == "newton" else 0
    with progress_bar(
        total=adam_budget + newton_budget, disable=not progress, desc="fixed points", leave=False
    ) as bar:
        x, status, adam_iterations = _adam_phase(problem, x, u, adam_budget, settings, bar)
        newton_iterations = 0
        if newton_budget:
            x, newton_iterations = _newton_phase(
                problem, x, u, status, newton_budget, settings, bar
            )
    q = torch.cat([problem.q(x[rows], u[rows]) for rows in _chunks(x.shape[0], problem.chunk * 16)])
    converged = torch.isfinite(q) & (q < settings.tol_q)
    return _Outcome(x, q, converged, adam_iterations, newton_iterations)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _adam_phase(
    problem: _Map, x: Tensor, u: Tensor, n_iters: int, settings: _Settings, bar: tqdm
) -> tuple[Tensor, Tensor, int]:
    """Adam on q for every start at once; converged and diverged starts freeze.

    Each start has its own learning rate, grown by 5% while its q falls and cut by 30% when
    it rises, and its gradient is clipped to norm ``grad_clip``. The active set is checked
    (one host synchronisation) and compacted every ``_CHECK_EVERY`` iterations.

    Returns the final states (N, d), the status of each start (N,) and the iterations run.
    """
    n = x.shape[0]
    x_all = x.clone()
    status_all = torch.full((n,), _ACTIVE, dtype=torch.int8, device=x.device)
    if n_iters == 0:
        return x_all, status_all, 0
    index = torch.arange(n, device=x.device)
    state = {
        "x": x.clone(),
        "u": u,
        "status": status_all.clone(),
        "m": torch.zeros_like(x),
        "v": torch.zeros_like(x),
        "lr": torch.full((n,), settings.lr, dtype=x.dtype, device=x.device),
        "q_prev": torch.full((n,), torch.inf, dtype=x.dtype, device=x.device),
    }
    beta1, beta2 = _ADAM_BETAS
    iteration = 0
    for iteration in range(1, n_iters + 1):
        q, gradient = problem.q_and_gradient(state["x"], state["u"])
        live = state["status"] == _ACTIVE
        finite = torch.isfinite(q) & torch.isfinite(gradient).all(dim=1)
        converged = finite & (q < settings.tol_q)
        state["status"] = torch.where(
            live & converged, _DONE, torch.where(live & ~finite, _FAILED, state["status"])
        ).to(torch.int8)
        moving = (state["status"] == _ACTIVE)[:, None]
        falling = q < state["q_prev"]
        state["lr"] = torch.where(falling, state["lr"] * _LR_GROW, state["lr"] * _LR_SHRINK).clamp(
            _LR_MIN, settings.lr * 100
        )
        state["q_prev"] = q
        norm = gradient.norm(dim=1, keepdim=True)
        gradient = gradient * (settings.grad_clip / norm).clamp(max=1.0).nan_to_num(1.0)
        state["m"] = torch.where(moving, beta1 * state["m"] + (1 - beta1) * gradient, state["m"])
        state["v"] = torch.where(
            moving, beta2 * state["v"] + (1 - beta2) * gradient * gradient, state["v"]
        )
        m_hat = state["m"] / (1 - beta1**iteration)
        v_hat = state["v"] / (1 - beta2**iteration)
        update = state["lr"][:, None] * m_hat / (v_hat.sqrt() + _ADAM_EPS)
        state["x"] = torch.where(moving, state["x"] - update, state["x"])
        if iteration % _CHECK_EVERY == 0 or iteration == n_iters:
            x_all[index] = state["x"]
            status_all[index] = state["status"]
            keep = (state["status"] == _ACTIVE).nonzero().squeeze(1)
            bar.update(iteration - bar.n)
            bar.set_postfix(active=keep.numel(), max_q=f"{float(q.max()):.1e}")
            if keep.numel() == 0:
                break
            index = index[keep]
            state = {key: value[keep] for key, value in state.items()}
    return x_all, status_all, iteration


def _newton_phase(
    problem: _Map,
    x: Tensor,
    u: Tensor,
    adam_status: Tensor,
    n_iters: int,
    settings: _Settings,
    bar: tqdm,
) -> tuple[Tensor, int]:
    """Damped Newton / Levenberg-Marquardt on ``r(x) = F(x, u) - x`` for every start.

    Each iteration builds a linear model of r for the starts still working (in chunks of
    ``problem.newton_chunk`` points: the dense Jacobian or a Krylov space), tries the full
    Newton step and keeps it where it lowers q, otherwise Levenberg-Marquardt steps with
    growing damping (see :func:`_newton_step`). A start below ``tol_q`` goes on (polishing)
    until q is at the rounding floor of evaluating ``F(x) - x`` or stops falling tenfold per
    iteration; see :func:`_next_status` for when a start is given up. The host synchronises
    a few times per iteration and chunk (selecting working starts, ending GMRES and the
    damping loop): negligible next to the Jacobian products.

    Returns the final states (N, d) and the iterations run.
    """
    q = torch.cat([problem.q(x[rows], u[rows]) for rows in _chunks(x.shape[0], problem.chunk * 16)])
    finite = torch.isfinite(q)
    below = finite & (q < settings.tol_q)
    status = torch.where(
        ~finite | (adam_status == _FAILED),
        _FAILED,
        torch.where(below, torch.where(q > 0, _POLISH, _DONE), _ACTIVE),
    ).to(torch.int8)
    mu = torch.full_like(q, _MU_INIT)
    q_reference = q.clone()
    age = torch.zeros_like(status, dtype=torch.int32)
    x = x.clone()
    iteration = 0
    for iteration in range(1, n_iters + 1):
        working = (status <= _POLISH).nonzero().squeeze(1)
        bar.update(1)
        bar.set_postfix(active=working.numel())
        if working.numel() == 0:
            return x, iteration - 1
        for rows in working.split(problem.newton_chunk):
            step = _newton_step(problem, x[rows], u[rows], mu[rows], status[rows] == _POLISH)
            x[rows], mu[rows] = step.x, step.mu
            status[rows], q_reference[rows], age[rows] = _next_status(
                status[rows], step, q_reference[rows], age[rows], settings.tol_q
            )
    return x, iteration


@dataclass
class _Step:
    x: Tensor  # (c, d) new states
    q_old: Tensor  # (c,) q before the iteration
    q: Tensor  # (c,) q after it
    accepted: Tensor  # (c,) bool: a Newton or Levenberg-Marquardt step was taken
    floor: Tensor  # (c,) bool: q is down to the rounding error of evaluating F(x) - x
    mu: Tensor  # (c,) new damping


class _Factorisation:
    """Householder QR of ``J_r`` (c, d, d), kept to solve ``J_r dx = -r`` repeatedly.

    QR rather than LU: it is backward stable, and batched LU on the CPU (MKL) returns invalid
    pivots in some PyTorch builds for matrices larger than about 160 x 160 when several
    threads are used. The orthogonal factor is applied implicitly (``ormqr``), never formed.
    """

    def __init__(self, jac_r: Tensor):
        self.householder, self.tau = torch.geqrf(jac_r)

    def newton_step(self, r: Tensor) -> Tensor:
        """``dx = -J_r^{-1} r`` for r (c, d); non-finite where ``J_r`` is singular."""
        rotated = torch.ormqr(self.householder, self.tau, r.unsqueeze(-1), transpose=True)
        # solve_triangular reads only the upper triangle, which holds R
        return -torch.linalg.solve_triangular(self.householder, rotated, upper=True).squeeze(-1)


class _DenseModel:
    """``r(x + dx) ~ r + J_r dx`` with the exact Jacobian ``J_r = dF/dx - I`` (c, d, d)."""

    chords = True

    def __init__(self, problem: _Map, x: Tensor, u: Tensor):
        self.fx, jac, _ = problem.jacobians(x, u)
        self.r = self.fx - x
        self.jac_r = jac - torch.eye(problem.d, dtype=x.dtype, device=x.device)
        self.factorisation = _Factorisation(self.jac_r)

    def newton_step(self, r: Tensor | None = None) -> Tensor:
        """Solve ``J_r dx = -r`` (by default for the model's own residual), shape (c, d)."""
        return self.factorisation.newton_step(self.r if r is None else r)

    def normal_equations(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(J_r^T J_r, -J_r^T r, None)`` for ``rows``: damped steps solve for dx itself."""
        jac_r = self.jac_r[rows]
        jac_t = jac_r.transpose(1, 2)
        return jac_t @ jac_r, -(jac_t @ self.r[rows].unsqueeze(-1)).squeeze(-1), None


class _KrylovModel:
    """``r(x + dx) ~ r + J_r dx`` restricted to a small subspace, matrix-free.

    GMRES builds an orthonormal basis ``V`` with ``J_r V_k = V_{k+1} H`` from
    Jacobian-vector products (see :meth:`_Map.linearise`, about one evaluation of the map
    each), so a step costs k of them instead of the d needed for the dense Jacobian. The
    Newton step is the GMRES solution of ``J_r dx = -r``. Damped steps minimise
    ``||r + J_r W y||^2 + lambda ||y||^2`` over ``dx = W y``, where W is V_k plus the
    steepest-descent direction ``J_r^T r`` (not in the Krylov space in general, and the way
    out of the slow regions where Newton steps fail).
    """

    chords = False

    def __init__(self, problem: _Map, x: Tensor, u: Tensor):
        self.problem, self.x, self.u = problem, x, u
        self.fx, self.linearisation = problem.linearise(x, u)
        self.r = self.fx - x
        self.krylov = _gmres(lambda v: self.linearisation.times(v) - v, -self.r, problem.krylov_dim)

    def newton_step(self) -> Tensor:
        """The GMRES solution of ``J_r dx = -r``, shape (c, d)."""
        return self.krylov.solution

    def normal_equations(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(A A^T, -A r, W)`` with ``A = J_r W`` as rows (c, p, d), for ``rows``.

        W is V_k followed by ``_LM_DIRECTIONS`` Golub-Kahan directions ``(J_r^T J_r)^i J_r^T r``
        (the Krylov space of least squares, starting with steepest descent), orthonormalised.
        When only some points need them, the map is linearised again at those points alone,
        so that the 2 * ``_LM_DIRECTIONS`` products cost in proportion.
        """
        r = self.r[rows]
        linearisation = self.linearisation
        if rows.numel() < self.r.shape[0]:
            _, linearisation = self.problem.linearise(self.x[rows], self.u[rows])
        basis = self.krylov.basis[rows]
        images = torch.einsum(
            "cjk,cjd->ckd", self.krylov.hessenberg[rows], self.krylov.full_basis[rows]
        )
        direction = linearisation.transpose_times(r) - r
        for _ in range(_LM_DIRECTIONS):
            for _ in range(2):
                direction = direction - torch.einsum(
                    "ckd,ck->cd", basis, torch.einsum("ckd,cd->ck", basis, direction)
                )
            norm = direction.norm(dim=1, keepdim=True)
            direction = torch.where(
                norm > 0, direction / norm.clamp(min=torch.finfo(norm.dtype).tiny), 0.0
            )
            image = linearisation.times(direction) - direction
            basis = torch.cat([basis, direction[:, None]], dim=1)
            images = torch.cat([images, image[:, None]], dim=1)
            direction = linearisation.transpose_times(image) - image
        return images @ images.transpose(1, 2), -(images @ r.unsqueeze(-1)).squeeze(-1), basis


@dataclass
class _Krylov:
    """GMRES result for a batch; point i uses the first ``dims[i]`` of the k columns."""

    solution: Tensor  # (c, d)
    full_basis: Tensor  # (c, k + 1, d): V_{k+1}, rows past dims[i] + 1 are zero
    hessenberg: Tensor  # (c, k + 1, k): A V_k = V_{k+1} H, columns past dims[i] are zero
    dims: Tensor  # (c,) Krylov dimension of each point

    @property
    def basis(self) -> Tensor:
        """``V_k`` with the columns past each point's dimension zeroed, shape (c, k, d)."""
        k = self.hessenberg.shape[2]
        used = torch.arange(k, device=self.dims.device) < self.dims[:, None]
        return self.full_basis[:, :k] * used[:, :, None]


def _gmres(apply: Callable[[Tensor], Tensor], b: Tensor, max_dim: int) -> _Krylov:
    """Solve ``A_i x_i = b_i`` for a batch of points by GMRES (no restart).

    Arnoldi with classical Gram-Schmidt applied twice, Givens rotations for the residual of
    every point at every iteration; a point stops (its later columns become the identity)
    once its residual is below ``_KRYLOV_RTOL * ||b_i||``, and the loop stops when every point
    has, or after ``max_dim`` iterations.

    Parameters
    ----------
    apply : callable
        ``V (c, d) -> A V`` row by row.
    b : Tensor, shape (c, d)
    max_dim : int
        Largest Krylov dimension.
    """
    c, d = b.shape
    tiny = torch.finfo(b.dtype).tiny
    beta = b.norm(dim=1)
    basis = b.new_zeros(c, max_dim + 1, d)
    hessenberg = b.new_zeros(c, max_dim + 1, max_dim)
    upper = b.new_zeros(c, max_dim, max_dim)
    cosines, sines = b.new_zeros(c, max_dim), b.new_zeros(c, max_dim)
    rhs = b.new_zeros(c, max_dim + 1)
    rhs[:, 0] = beta
    basis[:, 0] = b / beta.clamp(min=tiny)[:, None]
    live = beta > 0
    dims = torch.zeros(c, dtype=torch.long, device=b.device)
    size = 0
    for j in range(max_dim):
        size = j + 1
        column, basis[:, j + 1] = _arnoldi_column(apply, basis[:, : j + 1], live)
        hessenberg[:, : j + 2, j] = column
        for i in range(j):
            above, below = column[:, i].clone(), column[:, i + 1].clone()
            column[:, i] = cosines[:, i] * above + sines[:, i] * below
            column[:, i + 1] = cosines[:, i] * below - sines[:, i] * above
        radius = torch.hypot(column[:, j], column[:, j + 1])
        rotate = live & (radius > tiny)
        cosines[:, j] = torch.where(rotate, column[:, j] / radius.clamp(min=tiny), 1.0)
        sines[:, j] = torch.where(rotate, column[:, j + 1] / radius.clamp(min=tiny), 0.0)
        column[:, j] = torch.where(rotate, radius, 1.0)
        identity = torch.zeros_like(column[:, : j + 1])
        identity[:, j] = 1.0
        upper[:, : j + 1, j] = torch.where(rotate[:, None], column[:, : j + 1], identity)
        previous = rhs[:, j].clone()
        rhs[:, j] = torch.where(rotate, cosines[:, j] * previous, 0.0)
        rhs[:, j + 1] = torch.where(rotate, -sines[:, j] * previous, 0.0)
        dims = dims + live.to(dims.dtype)
        live = rotate & (rhs[:, j + 1].abs() > _KRYLOV_RTOL * beta)
        if not bool(live.any()):
            break
    coefficients = torch.linalg.solve_triangular(
        upper[:, :size, :size], rhs[:, :size, None], upper=True
    )
    solution = (basis[:, :size].transpose(1, 2) @ coefficients).squeeze(-1)
    return _Krylov(solution, basis[:, : size + 1], hessenberg[:, : size + 1, :size], dims)


def _arnoldi_column(
    apply: Callable[[Tensor], Tensor], basis: Tensor, live: Tensor
) -> tuple[Tensor, Tensor]:
    """Orthogonalise ``A v_j`` against ``basis`` (c, j+1, d): the Hessenberg column and v_{j+1}.

    A remainder below ``_KRYLOV_RTOL`` times ``||A v_j||`` is rounding error: the space is
    invariant (breakdown), and the column ends in an exact zero. Points that are not live
    get a zero column and a zero vector.
    """
    w = apply(basis[:, -1])
    scale = w.norm(dim=1)
    coefficients = torch.zeros_like(basis[:, :, 0])
    for _ in range(2):
        projection = torch.einsum("cjd,cd->cj", basis, w)
        w = w - torch.einsum("cjd,cj->cd", basis, projection)
        coefficients = coefficients + projection
    norm = w.norm(dim=1)
    grows = live & (norm > _KRYLOV_RTOL * scale)
    norm = torch.where(grows, norm, 0.0)
    column = torch.cat([coefficients, norm[:, None]], dim=1) * live[:, None]
    following = torch.where(
        grows[:, None], w / norm.clamp(min=torch.finfo(w.dtype).tiny)[:, None], 0.0
    )
    return column, following


def _linear_model(problem: _Map, x: Tensor, u: Tensor) -> _DenseModel | _KrylovModel:
    if problem.solver == "krylov":
        try:
            return _KrylovModel(problem, x, u)
        except Exception as err:  # double backward is missing for some ops
            problem.solver = "dense"
            warnings.warn(
                f"step does not support double backward ({type(err).__name__}: {err}); "
                "using dense Jacobians for the Newton steps",
                RuntimeWarning,
                stacklevel=2,
            )
    return _DenseModel(problem, x, u)


def _rounding_floor(x: Tensor, fx: Tensor) -> Tensor:
    """q below which rounding in evaluating ``F(x) - x`` dominates, shape (c,)."""
    scale = torch.maximum(x.abs().amax(dim=1), fx.abs().amax(dim=1)).clamp(min=1.0)
    unit = _FLOOR_ULPS * torch.finfo(x.dtype).eps * scale
    return 0.5 * x.shape[1] * unit * unit


def _newton_step(problem: _Map, x: Tensor, u: Tensor, mu: Tensor, polishing: Tensor) -> _Step:
    """One iteration for a chunk of points: Newton (+ chord steps), else Levenberg-Marquardt.

    With dense Jacobians, an accepted Newton step is followed by up to ``_CHORD_STEPS``
    chord steps that reuse the factorisation (one evaluation of F each) while each divides q
    by ten: this usually finishes the polishing without another Jacobian.
    """
    model = _linear_model(problem, x, u)
    q = _half_squared_norm(model.r)
    delta = model.newton_step()
    solved = torch.isfinite(delta).all(dim=1)
    trial = x + torch.where(solved[:, None], delta, torch.zeros_like(delta))
    f_trial = problem.evaluate(trial, u)
    q_trial = _half_squared_norm(f_trial - trial)
    accepted = solved & (q_trial < q)
    new_x = torch.where(accepted[:, None], trial, x)
    new_fx = torch.where(accepted[:, None], f_trial, model.fx)
    new_q = torch.where(accepted, q_trial, q)
    mu = torch.where(accepted, (mu / _MU_DOWN).clamp(min=_MU_MIN), mu)
    if model.chords:
        _chord_steps(problem, model, new_x, u, new_fx, new_q, accepted)
    rows = (~accepted & ~polishing).nonzero().squeeze(1)
    if rows.numel():
        new_x[rows], new_fx[rows], new_q[rows], mu[rows], accepted[rows] = _levenberg_marquardt(
            problem,
            x[rows],
            u[rows],
            model.fx[rows],
            q[rows],
            model.normal_equations(rows),
            mu[rows],
        )
    floor = new_q <= _rounding_floor(new_x, new_fx)
    return _Step(new_x, q, new_q, accepted, floor, mu)


def _chord_steps(
    problem: _Map,
    model: _DenseModel,
    x: Tensor,
    u: Tensor,
    fx: Tensor,
    q: Tensor,
    moving: Tensor,
) -> None:
    """Chord steps ``dx = -J_r(x_0)^{-1} r(x)`` for the points ``moving``; updates x, fx, q.

    The solves run on the whole chunk (zero residual elsewhere): cheaper than gathering the
    factorisation of a subset.
    """
    rows = moving.nonzero().squeeze(1)
    for _ in range(_CHORD_STEPS):
        if rows.numel() == 0:
            return
        residual = torch.zeros_like(x)
        residual[rows] = fx[rows] - x[rows]
        delta = model.newton_step(residual)[rows]
        usable = torch.isfinite(delta).all(dim=1)
        trial = x[rows] + torch.where(usable[:, None], delta, torch.zeros_like(delta))
        f_trial = problem.evaluate(trial, u[rows])
        q_trial = _half_squared_norm(f_trial - trial)
        better = usable & (q_trial < q[rows])
        gaining = better & (q_trial < _POLISH_GAIN * q[rows])
        gaining &= q_trial > _rounding_floor(trial, f_trial)
        x[rows] = torch.where(better[:, None], trial, x[rows])
        fx[rows] = torch.where(better[:, None], f_trial, fx[rows])
        q[rows] = torch.where(better, q_trial, q[rows])
        rows = rows[gaining]


def _levenberg_marquardt(
    problem: _Map,
    x: Tensor,
    u: Tensor,
    fx: Tensor,
    q: Tensor,
    normal_equations: tuple[Tensor, Tensor, Tensor | None],
    mu: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Up to ``_LM_TRIES`` damped steps per point: ``(N + mu s I) y = g``, ``dx = B^T y``.

    ``N`` (c, p, p) and ``g`` (c, p) are the normal equations of the linear model in the
    coordinates of ``B`` (c, p, d) (the identity when None); ``s`` is the mean of the nonzero
    diagonal entries of N (a Krylov basis pads unused directions with zeros, as many as the
    batch's largest Krylov space needs), so the damping is relative to the model's scale
    and a point's steps do not depend on the other points of its batch. mu grows tenfold
    after each rejected try and shrinks tenfold after an accepted one.
    Returns the new states (c, d), F at them (c, d), q (c,), mu (c,) and which points moved.
    """
    normal, rhs, basis = normal_equations
    diagonal = normal.diagonal(dim1=1, dim2=2)
    used = (diagonal > 0).sum(dim=1).clamp(min=1)
    scale = (diagonal.sum(dim=1) / used).clamp(min=torch.finfo(x.dtype).tiny)
    eye = torch.eye(normal.shape[-1], dtype=x.dtype, device=x.device)
    new_x, new_fx, new_q = x.clone(), fx.clone(), q.clone()
    pending = torch.ones_like(q, dtype=torch.bool)
    for _ in range(_LM_TRIES):
        factor, info = torch.linalg.cholesky_ex(normal + (mu * scale)[:, None, None] * eye)
        coefficients = torch.cholesky_solve(rhs.unsqueeze(-1), factor)
        delta = coefficients if basis is None else basis.transpose(1, 2) @ coefficients
        delta = delta.squeeze(-1)
        usable = (info == 0) & torch.isfinite(delta).all(dim=1)
        trial = x + torch.where(usable[:, None], delta, torch.zeros_like(delta))
        f_trial = problem.evaluate(trial, u)
        q_trial = _half_squared_norm(f_trial - trial)
        accepted = pending & usable & (q_trial < q)
        new_x = torch.where(accepted[:, None], trial, new_x)
        new_fx = torch.where(accepted[:, None], f_trial, new_fx)
        new_q = torch.where(accepted, q_trial, new_q)
        mu = torch.where(
            accepted, (mu / _MU_DOWN).clamp(min=_MU_MIN), torch.where(pending, mu * _MU_UP, mu)
        )
        pending = pending & ~accepted
        if not bool(pending.any()):
            break
    return new_x, new_fx, new_q, mu, ~pending


def _next_status(
    status: Tensor, step: _Step, q_reference: Tensor, age: Tensor, tol_q: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Status after a Newton iteration, with the stall-detection window (all on device).

    A polishing point is done once at its rounding floor, or when the iteration did not
    divide its q by ten. An active point below ``tol_q`` is done at the floor and polishes
    otherwise. An active point is given up when its damping exceeds ``_MU_MAX``, or when
    over a window of ``_STALL_WINDOW`` iterations its q fell by less than 10%, or by less
    than half while its steps were heavily damped (mu above ``_STALL_MU``).
    """
    polishing = status == _POLISH
    still_polishing = step.accepted & ~step.floor & (step.q < _POLISH_GAIN * step.q_old)
    status = torch.where(polishing & ~still_polishing, _DONE, status)
    active = status == _ACTIVE
    reached = active & (step.q < tol_q)
    status = torch.where(reached, torch.where(step.floor, _DONE, _POLISH), status)
    status = torch.where(active & ~reached & (step.mu > _MU_MAX), _FAILED, status)
    active = status == _ACTIVE
    age = torch.where(active, age + 1, age)
    window_done = active & (age >= _STALL_WINDOW)
    slow = (step.q > _STALL_RATIO * q_reference) & (step.mu > _STALL_MU)
    stalled = window_done & (slow | (step.q > _CRAWL_RATIO * q_reference))
    status = torch.where(stalled, _FAILED, status)
    q_reference = torch.where(window_done, step.q, q_reference)
    age = torch.where(window_done, torch.zeros_like(age), age)
    return status.to(torch.int8), q_reference, age


# --------------------------------------------------------------------------------------
# Unique points, characterisation
# --------------------------------------------------------------------------------------


def _input_groups(u: Tensor) -> Tensor:
    """Group label per point: points share a label when their inputs are exactly equal."""
    if u.shape[1] == 0:
        return torch.zeros(u.shape[0], dtype=torch.long, device=u.device)
    return torch.unique(u, dim=0, return_inverse=True)[1]


def _unique(members: Tensor, groups: Tensor, q: Tensor, tol: float) -> Tensor:
    """Indices of the points kept after merging near-duplicates, lowest q first.

    Point i is a duplicate of point j when both have the same group and the distance from
    ``members[i, 0]`` to the nearest of ``members[j, :]`` is at most ``tol`` (for fixed points
    each member set is one point; for cycles it is the whole orbit, which makes the test
    blind to the phase at which an orbit was found). Points are visited in order of
    increasing q and kept unless a kept point is within ``tol``: the greedy rule, evaluated
    one block of points at a time with ``torch.cdist``.

    Parameters
    ----------
    members : Tensor, shape (n, k, d)
    groups : Tensor of int, shape (n,)
    q : Tensor, shape (n,)
    tol : float

    Returns
    -------
    Tensor of int, shape (K,)
    """
    n = members.shape[0]
    order = torch.argsort(q, stable=True)
    members, groups = members[order], groups[order]
    kept_blocks: list[Tensor] = []
    kept = torch.zeros(0, dtype=torch.long, device=members.device)
    for block in _chunks(n, _DEDUP_BLOCK):
        keys, block_groups = members[block, 0], groups[block]
        near_kept = _near(keys, members[kept], block_groups, groups[kept], tol).any(dim=1)
        near_block = _near(keys, members[block], block_groups, block_groups, tol)
        near_block = near_block.tril(diagonal=-1)
        keep = ~near_kept
        while True:
            updated = ~near_kept & ~(near_block & keep[None, :]).any(dim=1)
            if torch.equal(updated, keep):
                break
            keep = updated
        block_kept = torch.arange(block.start, block.stop, device=members.device)[keep]
        kept_blocks.append(block_kept)
        kept = torch.cat(kept_blocks)
    return order[kept]


def _near(
    keys: Tensor, members: Tensor, key_groups: Tensor, member_groups: Tensor, tol: float
) -> Tensor:
    """(a, b) bool: key a lies within tol of some member of set b, in the same group."""
    if members.shape[0] == 0:
        return torch.zeros(keys.shape[0], 0, dtype=torch.bool, device=keys.device)
    b, k, d = members.shape
    distance = (
        torch.cdist(keys, members.reshape(b * k, d), compute_mode="donot_use_mm_for_euclid_dist")
        .reshape(keys.shape[0], b, k)
        .amin(dim=2)
    )
    return (distance <= tol) & (key_groups[:, None] == member_groups[None, :])


def _all_jacobians(problem: _Map, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """``dF/dx`` (n, d, d) and ``dF/du`` (n, d, m) at x (n, d) with inputs u (n, m), chunked."""
    d, m = x.shape[1], u.shape[1]
    jac_x, jac_u = [x.new_zeros(0, d, d)], [x.new_zeros(0, d, m)]
    for rows in _chunks(x.shape[0], problem.chunk):
        _, jx, ju = problem.jacobians(x[rows], u[rows], with_input=True)
        jac_x.append(jx)
        jac_u.append(ju)
    return torch.cat(jac_x), torch.cat(jac_u)


def _characterise(problem: _Map, x: Tensor, u: Tensor) -> dict[str, np.ndarray]:
    """Jacobians and sorted eigen-decomposition at the points x (K, d) with inputs u (K, m)."""
    jac_x, jac_u = _all_jacobians(problem, x, u)
    values, vectors = torch.linalg.eig(jac_x)
    order = torch.argsort(values.abs(), dim=1, descending=True, stable=True)
    values = torch.gather(values, 1, order)
    vectors = torch.gather(vectors, 2, order[:, None, :].expand_as(vectors))
    return {
        "jacobian": _numpy(jac_x),
        "jacobian_input": _numpy(jac_u),
        "eigenvalues": values.cpu().numpy(),
        "eigenvectors": vectors.cpu().numpy(),
    }


def _numpy(tensor: Tensor) -> np.ndarray:
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()


def _prepare(
    step: Any,
    x0: Any,
    u: Any,
    *,
    device: str | torch.device | None,
    dtype: torch.dtype,
    noise_scale: float,
    seed: int,
) -> tuple[StepFunction, Tensor, Tensor, torch.device]:
    """Resolve the step and check and convert the starts and inputs."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a real floating torch dtype, got {dtype!r}")
    requested = torch.device(device) if device is not None else None
    fallback = x0.device if isinstance(x0, Tensor) else torch.device("cpu")
    fn, work_device = _resolve_step(step, dtype, requested, fallback)
    x = _check_starts(x0, dtype, work_device)
    inputs = _check_inputs(u, x.shape[0], dtype, work_device)
    noise_scale = finite_positive(noise_scale, "noise_scale", allow_zero=True)
    x = _add_noise(x, noise_scale, non_negative_int(seed, "seed"))
    return fn, x, inputs, work_device


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def find_fixed_points(
    step: Any,
    x0: Any,
    u: Any = None,
    *,
    tol_q: float = 1e-12,
    tol_unique: float = 1e-3,
    max_iters: int | None = None,
    method: Method = "newton",
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    progress: bool = True,
    noise_scale: float = 0.0,
    warmup_iters: int = 100,
    lr: float = 0.01,
    grad_clip: float = 1.0,
    linear_solver: LinearSolver = "auto",
) -> FixedPoints:
    """Fixed points ``x* = F(x*, u)`` of a hidden-state map, searched from many starts at once.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        The map ``F(x (B, d), u (B, m)) -> (B, d)``, batched with independent rows, e.g. an
        RNN cell (:class:`torch.nn.Module`, which is deep-copied and converted to ``dtype`` and
        ``device``, never modified) or a plain function, which receives tensors in ``dtype``.
    x0 : array or Tensor, shape (N, d)
        Starts (finite).
    u : array or Tensor, shape (N, m) or (m,), float, or None
        Input held constant during the search, one row per start or one for all; None for a
        map without input (m = 0).
    tol_q : float
        A start has converged when ``q < tol_q``.
    tol_unique : float
        Converged points with the same input closer than this (Euclidean) are merged into the
        one with the lowest q.
    max_iters : int, optional
        Newton iterations (``method="newton"``, default 100) or Adam iterations
        (``method="adam"``, default 10 000).
    method : {"newton", "adam"}
        ``"newton"``: ``warmup_iters`` Adam iterations, then damped Newton /
        Levenberg-Marquardt on ``F(x, u) - x`` with exact derivatives (see
        ``linear_solver``), polishing each converged point down to the rounding floor of q
        (about 1e-30 for states of order one in float64); a start whose q stops falling is
        given up. ``"adam"``: Adam on q alone, each start stopping once ``q < tol_q``.
    device : str or torch.device, optional
        Where to compute; defaults to the module's device, else that of ``x0``, else CPU.
    dtype : torch.dtype
        Precision of the search (float64 by default; q is reported in float64).
    seed : int
        Seed of the noise added to the starts (used only when ``noise_scale > 0``).
    progress : bool
        Show a tqdm progress bar.
    noise_scale : float
        Standard deviation of Gaussian noise added to every start.
    warmup_iters : int
        Adam iterations before Newton (``method="newton"`` only).
    lr : float
        Initial Adam learning rate of every start (adapted per start as its q falls or rises).
    grad_clip : float
        Largest gradient norm fed to Adam, per start.
    linear_solver : {"auto", "dense", "krylov"}
        How Newton steps solve ``J_r dx = -r``: ``"dense"`` computes the full Jacobian (d
        reverse-mode products, vmapped) and factorises it (QR); ``"krylov"`` runs GMRES on
        Jacobian-vector products, a few dozen instead of d when the Jacobian has low
        effective rank (as for ReLU networks); ``"auto"`` takes dense up to d = 128.
        The reported Jacobians are always computed in full.

    Returns
    -------
    FixedPoints
        Unique converged points with Jacobians and eigen-decompositions, plus the counts and
        final states of the starts that failed.

    Raises
    ------
    ValueError
        On bad arguments, starts or inputs of the wrong shape or not finite, or a step that
        fails on ``dtype`` tensors, returns the wrong shape or dtype, or returns NaN at a start.
    """
    settings = _settings(
        method, tol_q, tol_unique, max_iters, warmup_iters, lr, grad_clip, linear_solver
    )
    fn, x, inputs, work_device = _prepare(
        step, x0, u, device=device, dtype=dtype, noise_scale=noise_scale, seed=seed
    )
    problem = _Map(fn, dtype, work_device, x.shape[1], settings.solver_for(x.shape[1]))
    problem.check(x, inputs)
    outcome = _search(problem, x, inputs, settings, progress)
    converged = outcome.converged
    x_conv, u_conv, q_conv = outcome.x[converged], inputs[converged], outcome.q[converged]
    keep = _unique(x_conv[:, None, :], _input_groups(u_conv), q_conv, settings.tol_unique)
    return FixedPoints(
        xstar=_numpy(x_conv[keep]),
        u=_numpy(u_conv[keep]),
        q=_numpy(q_conv[keep]),
        **_characterise(problem, x_conv[keep], u_conv[keep]),
        **_search_fields(_tally_of(outcome, inputs), settings, problem, outcome.adam_iterations),
    )


def _search_fields(
    tally: _Tally, settings: _Settings, problem: _Map, adam_iterations: int
) -> dict[str, Any]:
    """The fields of :class:`FixedPoints` that describe the search, not the points."""
    return {
        **tally.fields(),
        "method": settings.method,
        "linear_solver": problem.solver if settings.method == "newton" else "none",
        "tol_q": settings.tol_q,
        "tol_unique": settings.tol_unique,
        "adam_iterations": adam_iterations,
    }


def _tally_of(outcome: _Outcome, inputs: Tensor) -> _Tally:
    """The tally of a single batch of searches."""
    tally = _Tally()
    tally.add(outcome, inputs)
    return tally


def find_cycles(
    step: Any,
    x0: Any,
    u: Any = None,
    *,
    period: int,
    tol_q: float = 1e-12,
    tol_unique: float = 1e-3,
    max_iters: int | None = None,
    method: Method = "newton",
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    progress: bool = True,
    noise_scale: float = 0.0,
    warmup_iters: int = 100,
    lr: float = 0.01,
    grad_clip: float = 1.0,
    linear_solver: LinearSolver = "auto",
) -> Cycles:
    """Periodic orbits of period ``period``: fixed points of the k-fold map ``F o ... o F``.

    The search is :func:`find_fixed_points` applied to the k-fold map. Orbits found from
    different phases are the same cycle: a converged point is merged into a kept orbit when
    it lies within ``tol_unique`` of any of that orbit's k states. Fixed points of F and
    cycles whose period divides k are fixed points of the k-fold map too: they are kept and
    marked by ``minimal_period``.

    Parameters
    ----------
    step, x0, u, tol_q, tol_unique, max_iters, method, device, dtype, seed, progress,
    noise_scale, warmup_iters, lr, grad_clip, linear_solver
        As in :func:`find_fixed_points` (``q`` and ``tol_q`` refer to the k-fold map).
    period : int
        The period k >= 1.

    Returns
    -------
    Cycles
        One entry per unique orbit, with the orbit's states and Floquet multipliers.
    """
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
        raise ValueError(f"period must be an integer >= 1, got {period!r}")
    settings = _settings(
        method, tol_q, tol_unique, max_iters, warmup_iters, lr, grad_clip, linear_solver
    )
    fn, x, inputs, work_device = _prepare(
        step, x0, u, device=device, dtype=dtype, noise_scale=noise_scale, seed=seed
    )
    one_step = _Map(fn, dtype, work_device, x.shape[1])
    one_step.check(x, inputs)

    def k_fold(state: Tensor, drive: Tensor) -> Tensor:
        for _ in range(period):
            state = fn(state, drive)
        return state

    problem = _Map(k_fold, dtype, work_device, x.shape[1], settings.solver_for(x.shape[1]))
    outcome = _search(problem, x, inputs, settings, progress)
    converged = outcome.converged
    x_conv, u_conv, q_conv = outcome.x[converged], inputs[converged], outcome.q[converged]
    orbits = _orbits(fn, x_conv, u_conv, int(period))
    keep = _unique(orbits, _input_groups(u_conv), q_conv, settings.tol_unique)
    return Cycles(
        xstar=_numpy(x_conv[keep]),
        u=_numpy(u_conv[keep]),
        q=_numpy(q_conv[keep]),
        **_characterise(problem, x_conv[keep], u_conv[keep]),
        **_search_fields(_tally_of(outcome, inputs), settings, problem, outcome.adam_iterations),
        orbit=_numpy(orbits[keep]),
        minimal_period=_minimal_periods(orbits[keep], settings.tol_unique),
        period=int(period),
    )


def _orbits(fn: StepFunction, x: Tensor, u: Tensor, period: int) -> Tensor:
    """States ``x, F(x), ..., F^{k-1}(x)``, shape (n, k, d)."""
    states = [x]
    with torch.no_grad():
        for _ in range(period - 1):
            states.append(fn(states[-1], u))
    return torch.stack(states, dim=1)


def _minimal_periods(orbits: Tensor, tol: float) -> np.ndarray:
    n, period, _ = orbits.shape
    minimal = np.full(n, period, dtype=np.int64)
    for p in reversed([p for p in range(1, period) if period % p == 0]):
        returns = (orbits[:, p] - orbits[:, 0]).norm(dim=1) <= tol
        minimal[returns.cpu().numpy()] = p
    return minimal


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
    values = _path(inputs)
    starts = sample_states(states, n_per_input, noise_scale=noise_scale, seed=seed)
    starts = _numpy(torch.as_tensor(starts))
    x0 = np.tile(starts, (values.shape[0], 1))
    u = np.repeat(values, n_per_input, axis=0)
    return find_fixed_points(step, x0, u, **options)


def find_fixed_points_along(
    step: Any,
    inputs: Any,
    x0: Any,
    start_index: Any,
    *,
    max_halvings: int = 4,
    tol_q: float = 1e-12,
    tol_unique: float = 1e-3,
    max_iters: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    linear_solver: LinearSolver = "auto",
    progress: bool = True,
) -> FixedPoints:
    """Fixed points at every input of a path, each branch followed from input to input.

    First every start ``x0[i]`` is searched (damped Newton, no Adam warm-up) with the input
    held at ``inputs[start_index[i]]``. Then the points are continued along the path, once
    forwards and once backwards: the points known at one input start the search at the next.
    A point that does not converge there is retried through the midpoint input, halving the
    step up to ``max_halvings`` times, so a branch is lost only where it really ends (a fold)
    or turns too sharply. This finds fixed points that no start lies near: on a deep ReLU
    network, Newton from trajectory states converges only from inside the right activation
    region, while the point at a neighbouring input usually is inside it.

    Parameters
    ----------
    step : callable or object with a ``.step`` method
        As in :func:`find_fixed_points`.
    inputs : array or Tensor, shape (K, m), or (K,) for scalar inputs
        The path of inputs, in order (e.g. increasing current). Consecutive inputs should be
        close enough for the points to move little between them.
    x0 : array or Tensor, shape (N, d)
        Starts, e.g. states along the network's trajectories.
    start_index : array of int, shape (N,)
        Position on the path of the input at which each start is searched.
    max_halvings : int
        Largest number of times a failed continuation step is halved.
    tol_q, tol_unique, max_iters, device, dtype, linear_solver
        As in :func:`find_fixed_points` (Newton method).
    progress : bool
        Show a tqdm progress bar over the two sweeps.

    Returns
    -------
    FixedPoints
        The unique fixed points at each input of the path (``u`` is the row of ``inputs``,
        in ``dtype``), characterised as by :func:`find_fixed_points`. The counts and the
        ``failed_*`` fields describe every search: first the N starts ``x0`` in order
        (``failed_index < N`` are rows of ``x0``), then each continuation step in the order
        run, whose ``failed_u`` may be a midpoint between two inputs of the path.
        ``newton_iterations`` is the most any search used.

    Raises
    ------
    ValueError
        On bad arguments, as :func:`find_fixed_points`; when ``inputs`` is not a non-empty
        finite (K, m) array, or ``start_index`` is not one integer in ``[0, K - 1]`` per
        start.
    """
    max_halvings = non_negative_int(max_halvings, "max_halvings")
    settings = _settings("newton", tol_q, tol_unique, max_iters, 0, 0.01, 1.0, linear_solver)
    path = _path(inputs)
    n_starts = _check_starts(x0, torch.float64, torch.device("cpu")).shape[0]
    index = _path_positions(start_index, path.shape[0])
    if index.shape[0] != n_starts:
        raise ValueError(
            f"start_index must have one entry per start (N = {n_starts}), got {index.shape[0]}"
        )
    fn, x, start_inputs, work_device = _prepare(
        step, x0, path[index], device=device, dtype=dtype, noise_scale=0.0, seed=0
    )
    problem = _Map(fn, dtype, work_device, x.shape[1], settings.solver_for(x.shape[1]))
    problem.check(x, start_inputs)
    seeds = _search(problem, x, start_inputs, settings, progress=False)
    tally = _Tally()
    tally.add(seeds, start_inputs)
    on_path = torch.as_tensor(path, dtype=dtype, device=work_device)
    found = [seeds.x[seeds.converged & torch.as_tensor(index == k, device=work_device)]
             for k in range(path.shape[0])]
    with progress_bar(
        total=2 * path.shape[0], disable=not progress, desc="continuation", leave=False
    ) as bar:
        for order in (range(path.shape[0]), range(path.shape[0] - 1, -1, -1)):
            found = _sweep(problem, on_path, found, list(order), settings, max_halvings, tally, bar)
    x_all = torch.cat(found)
    u_all = torch.cat([on_path[k].expand(len(points), -1) for k, points in enumerate(found)])
    q_all = problem.q(x_all, u_all) if x_all.shape[0] else x_all.new_zeros(0)
    if x_all.shape[0]:  # a path may pass the same input twice
        keep = torch.sort(
            _unique(x_all[:, None, :], _input_groups(u_all), q_all, settings.tol_unique)
        ).values
        x_all, u_all, q_all = x_all[keep], u_all[keep], q_all[keep]
    return FixedPoints(
        xstar=_numpy(x_all),
        u=_numpy(u_all),
        q=_numpy(q_all),
        **_characterise(problem, x_all, u_all),
        **_search_fields(tally, settings, problem, seeds.adam_iterations),
    )


class _Tally:
    """Searches run (one batch, or every batch of a continuation) and the failed ones."""

    def __init__(self) -> None:
        self.started = 0
        self.converged = 0
        self.newton_iterations = 0
        self.failed: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []

    def add(self, outcome: _Outcome, inputs: Tensor) -> None:
        """Count the searches of one batch and keep its failures (state, input, q, index)."""
        lost = ~outcome.converged
        rows = lost.nonzero().squeeze(1)
        self.failed.append((outcome.x[lost], inputs[lost], outcome.q[lost], rows + self.started))
        self.started += outcome.x.shape[0]
        self.converged += int(outcome.converged.sum())
        self.newton_iterations = max(self.newton_iterations, outcome.newton_iterations)

    def fields(self) -> dict[str, Any]:
        """The counts and ``failed_*`` fields of :class:`FixedPoints`."""
        x, u, q, index = (torch.cat(parts) for parts in zip(*self.failed, strict=True))
        return {
            "n_started": self.started,
            "n_converged": self.converged,
            "failed_x": _numpy(x),
            "failed_u": _numpy(u),
            "failed_q": _numpy(q),
            "failed_index": index.cpu().numpy(),
            "newton_iterations": self.newton_iterations,
        }


def _path(inputs: Any) -> np.ndarray:
    """The inputs of a path as a float64 array of shape (K, m)."""
    values = _numpy(_to_tensor(inputs, "inputs", torch.float64, torch.device("cpu")))
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[0] < 1:
        raise ValueError(
            f"inputs must have shape (K, m), or (K,) for scalar inputs, got {values.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError("inputs holds non-finite values (NaN or inf)")
    return values


def _path_positions(start_index: Any, n_inputs: int) -> np.ndarray:
    """``start_index`` checked as a 1-D integer array of positions in ``range(n_inputs)``."""
    index = np.asarray(start_index)
    if index.ndim == 1 and index.size == 0:
        index = index.astype(np.int64)
    if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"start_index must be a 1-D integer array, got {index!r}")
    if index.size and (index.min() < 0 or index.max() >= n_inputs):
        raise ValueError(
            f"start_index entries must lie in [0, {n_inputs - 1}], "
            f"got {index.min()} to {index.max()}"
        )
    return index


def _sweep(
    problem: _Map,
    path: Tensor,
    found: list[Tensor],
    order: list[int],
    settings: _Settings,
    max_halvings: int,
    tally: _Tally,
    bar: tqdm,
) -> list[Tensor]:
    """One pass along ``order``: carry the points of each input over to the next."""
    found = list(found)
    carried = path.new_zeros(0, problem.d)
    for previous, k in zip([None, *order[:-1]], order, strict=True):
        if previous is not None:
            carried = _advance(
                problem, carried, path[previous], path[k], settings, max_halvings, tally
            )
        found[k] = _merged(problem, torch.cat([found[k], carried]), path[k], settings.tol_unique)
        carried = found[k]
        bar.update(1)
    return found


def _advance(
    problem: _Map,
    x: Tensor,
    u_from: Tensor,
    u_to: Tensor,
    settings: _Settings,
    halvings: int,
    tally: _Tally,
) -> Tensor:
    """Converged points at ``u_to`` continued from the points ``x`` at ``u_from``."""
    if x.shape[0] == 0:
        return x
    targets = u_to.expand(x.shape[0], -1)
    outcome = _search(problem, x, targets, settings, progress=False)
    tally.add(outcome, targets)
    reached = [outcome.x[outcome.converged]]
    lost = x[~outcome.converged]
    if halvings > 0 and lost.shape[0]:
        middle = (u_from + u_to) / 2
        halfway = _advance(problem, lost, u_from, middle, settings, halvings - 1, tally)
        reached.append(_advance(problem, halfway, middle, u_to, settings, halvings - 1, tally))
    return torch.cat(reached)


def _merged(problem: _Map, x: Tensor, u: Tensor, tol_unique: float) -> Tensor:
    """The points x (n, d) at input u (m,), near-duplicates merged (lowest q kept)."""
    if x.shape[0] < 2:
        return x
    q = problem.q(x, u.expand(x.shape[0], -1))
    groups = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    return x[_unique(x[:, None, :], groups, q, tol_unique)]


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
    is_tensor = isinstance(trajectories, Tensor)
    device = trajectories.device if is_tensor else torch.device("cpu")
    given = _to_tensor(trajectories, "trajectories", torch.float64, device)
    if given.ndim not in (2, 3) or given.numel() == 0:
        raise ValueError(
            "trajectories must have shape (B, T, d) or (N, d) with at least one state, got "
            f"{tuple(given.shape)}"
        )
    flat = given.reshape(-1, given.shape[-1])
    if not bool(torch.isfinite(flat).all()):
        raise ValueError("trajectories hold non-finite values (NaN or inf)")
    n = positive_int(n, "n")
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
    fn, states, inputs, work_device = _prepare(
        step, x, u, device=device, dtype=dtype, noise_scale=0.0, seed=0
    )
    problem = _Map(fn, dtype, work_device, states.shape[1])
    problem.check(states, inputs)
    jac_x, jac_u = _all_jacobians(problem, states, inputs)
    return _numpy(jac_x), _numpy(jac_u)
