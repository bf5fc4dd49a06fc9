"""The dense linear model of the residual: exact Jacobian, Householder QR."""

from __future__ import annotations

import torch
from torch import Tensor

from fhnrnn.fixedpoints._map import Map


class Factorisation:
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

    def inverse(self) -> Tensor:
        """``J_r^{-1}`` (c, d, d), from the factors; non-finite where ``J_r`` is singular."""
        c, d, _ = self.householder.shape
        eye = torch.eye(d, dtype=self.householder.dtype, device=self.householder.device)
        rotated = torch.ormqr(self.householder, self.tau, eye.expand(c, d, d), transpose=True)
        return torch.linalg.solve_triangular(self.householder, rotated, upper=True)


class DenseModel:
    """``r(x + dx) ~ r + J_r dx`` with the exact Jacobian ``J_r = dF/dx - I`` (c, d, d)."""

    chords = True

    def __init__(self, problem: Map, x: Tensor, u: Tensor):
        self.fx, jac, _ = problem.jacobians(x, u)
        self.r = self.fx - x
        self.jac_r = jac - torch.eye(problem.d, dtype=x.dtype, device=x.device)
        self.factorisation = Factorisation(self.jac_r)

    def newton_step(self, r: Tensor | None = None) -> Tensor:
        """Solve ``J_r dx = -r`` (by default for the model's own residual), shape (c, d)."""
        return self.factorisation.newton_step(self.r if r is None else r)

    def normal_equations(self, rows: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(J_r^T J_r, -J_r^T r, None)`` for ``rows``: damped steps solve for dx itself."""
        jac_r = self.jac_r[rows]
        jac_t = jac_r.transpose(1, 2)
        return jac_t @ jac_r, -(jac_t @ self.r[rows].unsqueeze(-1)).squeeze(-1), None
