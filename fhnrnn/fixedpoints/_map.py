"""The map ``F(x, u)``: resolving ``step``, checked evaluation, q, Jacobians."""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from fhnrnn.fixedpoints.torch_cells import recurrent_step

StepFunction = Callable[[Tensor, Tensor], Tensor]

# Jacobian entries held at once, per chunk of points (float64: 64 MiB on CPU, 512 MiB on GPU).
_JACOBIAN_BUDGET_CPU, _JACOBIAN_BUDGET_ACCELERATOR = 2**23, 2**26
_KRYLOV_MAX_DIM = 100
# Starts on which the step is checked to be differentiable, and the relative size of the
# perturbation that tells a step independent of x from one that hides its dependence.
_GRADIENT_CHECK_ROWS, _PERTURBATION = 4, 1e-3
_NOT_DIFFERENTIABLE = (
    "step is not differentiable with respect to x: {reason}. The engine needs dF/dx for its "
    "Newton steps, Jacobians, eigenvalues and stability labels, and would otherwise report "
    "zero Jacobians; write step with torch operations, without .detach(), torch.no_grad() or "
    "a detour through numpy"
)


def _module_device(module: torch.nn.Module) -> torch.device:
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def resolve_step(
    step: Any, dtype: torch.dtype, device: torch.device | None, fallback: torch.device
) -> tuple[StepFunction, torch.device]:
    """The callable to evaluate and the device to work on.

    An nn.Module (or a bound method of one) is deep-copied, converted to ``dtype`` and
    ``device``, frozen and put in eval mode, so the user's model is never touched. A bare
    torch recurrent module or cell (``nn.RNN``, ``nn.GRU``, ``nn.LSTM`` and their ``*Cell``
    forms, which torch calls input first) is evaluated state first by
    :func:`fhnrnn.models.recurrent_step`.
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
        if isinstance(clone, (torch.nn.RNNBase, torch.nn.RNNCellBase)) and method_name in (
            None,
            "forward",
        ):
            return recurrent_step(clone), device
        return (getattr(clone, method_name) if method_name else clone), device
    if callable(getattr(step, "step", None)):
        return step.step, device or fallback
    if callable(step):
        return step, device or fallback
    raise ValueError(
        "step must be a callable (x (B, d), u (B, m)) -> (B, d) or an object with such a "
        f".step method, got {type(step).__name__}"
    )


class Map:
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
        """Evaluate F at every start; raise ValueError on an error, wrong shape or NaN.

        Also refuse a step that writes into its arguments, or one whose output autograd cannot
        follow back to x (its Jacobians would come out zero).
        """
        for rows in torch.arange(x.shape[0], device=self.device).split(self.chunk * 16):
            self._checked_call(x[rows], u[rows], first_row=int(rows[0]))
        self._check_differentiable(x[:_GRADIENT_CHECK_ROWS], u[:_GRADIENT_CHECK_ROWS])

    def _checked_call(self, x: Tensor, u: Tensor, first_row: int) -> None:
        given = {"x": x.clone(), "u": u.clone()}
        try:
            with torch.no_grad():
                out = self.fn(given["x"], given["u"])
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"step(x, u) failed for x of shape {tuple(x.shape)} and u of shape "
                f"{tuple(u.shape)}, both {self.dtype} on {self.device}: {err}. step must accept "
                f"two batched tensors in {self.dtype}; an nn.Module (or a bound method of one) "
                "is converted automatically, a plain function must not hold tensors of another "
                "dtype or device (or pass dtype= to search in theirs)"
            ) from err
        for name, original in (("x", x), ("u", u)):
            if not torch.equal(given[name], original):
                raise ValueError(
                    f"step modified its argument {name} in place; it must leave x and u "
                    "unchanged and return a new tensor (write x = x * 2, not x *= 2 or x[i] = ...)"
                )
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

    def _check_differentiable(self, x: Tensor, u: Tensor) -> None:
        """Refuse a step whose output depends on x (n, d) other than through autograd."""
        try:
            with torch.enable_grad():
                state = x.detach().clone().requires_grad_(True)
                out = self.fn(state, u)
                connected = out.requires_grad and (
                    torch.autograd.grad(out.sum(), state, allow_unused=True)[0] is not None
                )
        except RuntimeError as err:
            reason = f"calling it on an x that requires grad failed ({err})"
            raise ValueError(_NOT_DIFFERENTIABLE.format(reason=reason)) from err
        if connected:
            return
        if not torch.equal(self.evaluate(x + _PERTURBATION * (1.0 + x.abs()), u), out.detach()):
            reason = "its output changes with x, but autograd sees no path from x to it"
            raise ValueError(_NOT_DIFFERENTIABLE.format(reason=reason))

    def evaluate(self, x: Tensor, u: Tensor) -> Tensor:
        """``F(x, u)`` without building a graph, shape (n, d)."""
        with torch.no_grad():
            return self.fn(x, u)

    def linearise(self, x: Tensor, u: Tensor) -> tuple[Tensor, Linearisation]:
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
        return out.detach(), Linearisation(out, state, pulled, dummy)

    def q(self, x: Tensor, u: Tensor) -> Tensor:
        """``1/2 ||F(x, u) - x||^2`` per point, shape (n,)."""
        return half_squared_norm(self.evaluate(x, u) - x)

    def q_and_gradient(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """``q`` (n,) and its gradient with respect to x (n, d)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            q = half_squared_norm(self.fn(x, u) - x)
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
class Linearisation:
    """Products with the Jacobian of ``out = F(state)`` (see :meth:`Map.linearise`)."""

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


def half_squared_norm(r: Tensor) -> Tensor:
    """``1/2 ||r||^2`` over the last axis."""
    return 0.5 * (r * r).sum(dim=-1)


def chunks(n: int, size: int) -> list[slice]:
    """Slices of ``range(n)`` of at most ``size`` rows each."""
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


# --------------------------------------------------------------------------------------


def all_jacobians(problem: Map, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """``dF/dx`` (n, d, d) and ``dF/du`` (n, d, m) at x (n, d) with inputs u (n, m), chunked."""
    d, m = x.shape[1], u.shape[1]
    jac_x, jac_u = [x.new_zeros(0, d, d)], [x.new_zeros(0, d, m)]
    for rows in chunks(x.shape[0], problem.chunk):
        _, jx, ju = problem.jacobians(x[rows], u[rows], with_input=True)
        jac_x.append(jx)
        jac_u.append(ju)
    return torch.cat(jac_x), torch.cat(jac_u)


def characterise(problem: Map, x: Tensor, u: Tensor) -> dict[str, np.ndarray]:
    """Jacobians and sorted eigen-decomposition at the points x (K, d) with inputs u (K, m)."""
    jac_x, jac_u = all_jacobians(problem, x, u)
    values, vectors = torch.linalg.eig(jac_x)
    order = torch.argsort(values.abs(), dim=1, descending=True, stable=True)
    values = torch.gather(values, 1, order)
    vectors = torch.gather(vectors, 2, order[:, None, :].expand_as(vectors))
    return {
        "jacobian": to_numpy(jac_x),
        "jacobian_input": to_numpy(jac_u),
        "eigenvalues": values.cpu().numpy(),
        "eigenvectors": vectors.cpu().numpy(),
    }


def to_numpy(tensor: Tensor) -> np.ndarray:
    """A float64 numpy copy on the CPU."""
    return tensor.detach().to(device="cpu", dtype=torch.float64).numpy()
