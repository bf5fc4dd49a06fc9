"""The curve of fixed points of a map with one scalar input, for pseudo-arclength continuation.

The fixed points of ``F(x, u)``, u scalar, are the zero set of ``G(y) = F(x, u) - x`` with
``y = (x, u)`` in ``R^{d+1}``: generically a curve. A point on it is corrected by Newton on
``G(y) = 0`` plus one linear constraint ``row . y = value`` (the pseudo-arclength hyperplane,
or ``u = value`` to land on a given input); its tangent is the null vector of ``DG`` (d, d+1),
oriented like the previous tangent. The linear algebra is small and sequential, so it runs in
numpy (float64); F and its Jacobians come from :class:`~fhnrnn.fixedpoints._map.Map`.

The curve is held in scaled coordinates ``y = (x / scale, u)`` with ``G`` divided by
``scale`` too, so that step lengths, tolerances and the guards of the continuation mean the
same whatever the size of the state: the map ``x -> s F(x / s, u)`` gives the same points, in
the same coordinates, for every ``s`` when ``scale`` is proportional to ``s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from fhnrnn.fixedpoints._map import Map

_STEP_TOL = 1e-10  # Newton stops when ||dy|| <= _STEP_TOL * (1 + ||y||)
# a point is exactly on the curve (up to rounding) when ||G(y)|| <= _EXACT * (1 + ||y||)
_EXACT = 1e-12


@dataclass(frozen=True)
class CurvePoint:
    """A corrected point of the curve with what bifurcation detection needs."""

    y: np.ndarray  # (d + 1,) scaled state x / scale, then input
    tangent: np.ndarray  # (d + 1,) unit tangent, oriented along the continuation
    multipliers: np.ndarray  # (d,) complex eigenvalues of dF/dx, largest modulus first
    fold_sign: int  # sign of det(dF/dx - I): flips when a real multiplier crosses +1
    flip_sign: int  # sign of det(dF/dx + I): flips when a real multiplier crosses -1
    orientation: int  # sign of det([DG; t]): constant along a regular branch
    iterations: int  # Newton iterations the correction took

    @property
    def u(self) -> float:
        """The input at the point."""
        return float(self.y[-1])

    @property
    def n_unstable(self) -> int:
        """Multipliers outside the unit circle."""
        return int((np.abs(self.multipliers) > 1.0).sum())

    @property
    def n_complex_unstable(self) -> int:
        """Non-real multipliers outside the unit circle (pairs count twice)."""
        outside = np.abs(self.multipliers) > 1.0
        return int((outside & (self.multipliers.imag != 0.0)).sum())


class Curve:
    """The fixed-point curve of ``problem`` (a map with input dimension 1), in coordinates
    ``y = (x / scale, u)``."""

    def __init__(self, problem: Map, tol_q: float, max_corrector: int, scale: float = 1.0):
        self.problem = problem
        self.d = problem.d
        self.tol_q = tol_q
        self.max_corrector = max_corrector
        self.scale = scale

    def _tensors(self, ys: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """States x (n, d) and inputs u (n, 1) of the scaled points ``ys`` (n, d+1)."""
        as_tensor = torch.as_tensor(ys, dtype=self.problem.dtype, device=self.problem.device)
        return as_tensor[:, : self.d] * self.scale, as_tensor[:, self.d :]

    def state(self, y: np.ndarray) -> np.ndarray:
        """The state x (d,) of the scaled point ``y``."""
        return y[: self.d] * self.scale

    def residual(self, y: np.ndarray) -> np.ndarray:
        """``G(y) = (F(x, u) - x) / scale``, shape (d,)."""
        x, u = self._tensors(y[None])
        return ((self.problem.evaluate(x, u) - x)[0] / self.scale).cpu().double().numpy()

    def q(self, y: np.ndarray) -> float:
        """``1/2 ||G(y)||^2``: below ``tol_q``, y lies on the curve."""
        residual = self.residual(y)
        return 0.5 * float(residual @ residual)

    def exactly_on(self, y: np.ndarray) -> bool:
        """Whether ``G(y)`` vanishes up to rounding (as at a corner of a piecewise-linear map)."""
        return float(np.linalg.norm(self.residual(y))) <= _EXACT * (1.0 + np.linalg.norm(y))

    def linearise(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``G(y)`` (d,), ``DG(y) = [dF/dx - I, dF/du / scale]`` (d, d+1) and ``dF/dx`` (d, d)."""
        g, dg, jac = self.linearise_many(y[None])
        return g[0], dg[0], jac[0]

    def linearise_many(self, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`linearise` at the points ``ys`` (n, d+1) at once.

        Returns arrays of shapes (n, d), (n, d, d+1) and (n, d, d).
        """
        x, u = self._tensors(ys)
        fx, jac_x, jac_u = self.problem.jacobians(x, u, with_input=True)
        jac = jac_x.cpu().double().numpy()
        g = ((fx - x) / self.scale).cpu().double().numpy()
        dg = np.concatenate([jac - np.eye(self.d), jac_u.cpu().double().numpy() / self.scale], 2)
        return g, dg, jac

    def correct(
        self, guess: np.ndarray, row: np.ndarray, value: float
    ) -> tuple[np.ndarray, int] | None:
        """Newton on ``G(y) = 0, row . y = value`` from ``guess``; None when it fails.

        Returns the corrected point (d+1,) and the iterations used.
        """
        y = np.array(guess, dtype=np.float64)
        for iteration in range(1, self.max_corrector + 1):
            g, dg, _ = self.linearise(y)
            system = np.vstack([dg, row])
            try:
                dy = np.linalg.solve(system, -np.append(g, row @ y - value))
            except np.linalg.LinAlgError:
                return None
            if not np.isfinite(dy).all():
                return None
            y = y + dy
            if np.linalg.norm(dy) <= _STEP_TOL * (1.0 + np.linalg.norm(y)):
                return (y, iteration) if self.q(y) < self.tol_q else None
        return None

    def point(
        self, y: np.ndarray, previous: np.ndarray, orientation: int = 0, iterations: int = 0
    ) -> CurvePoint:
        """The curve point at a corrected ``y`` and its tangent.

        The tangent is oriented so that ``det([DG; t])`` has the sign ``orientation`` (that
        of the branch so far, constant along a regular branch), or, when ``orientation`` is 0
        (the first point), so that ``t . previous > 0``.
        """
        _, dg, jac = self.linearise(y)
        tangent, sign = self.tangent(dg, previous, orientation)
        multipliers = np.linalg.eigvals(jac)
        order = np.argsort(-np.abs(multipliers), kind="stable")
        eye = np.eye(self.d)
        return CurvePoint(
            y=y,
            tangent=tangent,
            multipliers=multipliers[order].astype(np.complex128),
            fold_sign=int(np.linalg.slogdet(jac - eye)[0]),
            flip_sign=int(np.linalg.slogdet(jac + eye)[0]),
            orientation=sign,
            iterations=iterations,
        )

    def tangent(
        self, dg: np.ndarray, previous: np.ndarray, orientation: int
    ) -> tuple[np.ndarray, int]:
        """The unit null vector of ``dg`` (d, d+1), oriented, and the sign of ``det([dg; t])``."""
        rhs = np.zeros(self.d + 1)
        rhs[-1] = 1.0
        try:
            tangent = np.linalg.solve(np.vstack([dg, previous]), rhs)
        except np.linalg.LinAlgError:  # the null vector is orthogonal to ``previous``
            tangent = np.linalg.svd(dg)[2][-1]  # (at a right-angled kink of a PL map)
        tangent /= np.linalg.norm(tangent)
        sign = int(np.linalg.slogdet(np.vstack([dg, tangent]))[0])
        if orientation and sign != orientation:
            return -tangent, -sign
        return tangent, sign
