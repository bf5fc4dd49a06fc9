"""Results of a search, :class:`FixedPoints` and :class:`Cycles`: arrays, saved as ``.npz``."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fhnrnn._paths import atomic_write_bytes

__all__ = ["Cycles", "FixedPoints"]

_FILE_FORMAT = 1
_NPZ_MAGIC, _NPY_MAGIC = b"PK\x03\x04", b"\x93NUMPY"


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
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype))
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

    def search_record(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """What the search recorded besides the points, to store a result without its Jacobians.

        Returns
        -------
        arrays : dict of str to ndarray
            The failed starts: ``failed_x`` (F, d), ``failed_u`` (F, m), ``failed_q`` (F,),
            ``failed_index`` (F,).
        scalars : dict of str to int, float or str
            The counts and settings (``n_started``, ``n_converged``, ``method``, ...).
        """
        arrays = {name: getattr(self, name) for name in self._SEARCH_ARRAYS}
        return arrays, {name: getattr(self, name) for name in self._SEARCH_SCALARS}

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

        Raises
        ------
        FileNotFoundError
            If there is no such file.
        ValueError
            If the file is not an intact ``.npz`` archive written by :meth:`save` (empty,
            truncated, another format, a field missing or of the wrong shape), named with
            what is wrong. Nothing in the file is ever unpickled.
        """
        path = Path(path)
        arrays = _read_archive(path)
        target = _result_class(arrays, path, cls)
        names = (*target._POINT_FIELDS, *target._SEARCH_ARRAYS, *target._SEARCH_SCALARS)
        missing = [name for name in names if name not in arrays]
        if missing:
            raise ValueError(f"{path} lacks the field(s) {missing} that FixedPoints.save writes")
        try:
            return target._from_arrays(arrays)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{path} holds a field that FixedPoints.save does not write: {error}"
            ) from error

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray]) -> FixedPoints:
        """The result held by the arrays of a saved file, every field present."""
        values: dict[str, Any] = {
            name: arrays[name] for name in (*cls._POINT_FIELDS, *cls._SEARCH_ARRAYS)
        }
        for name, convert in cls._SEARCH_SCALARS.items():
            values[name] = convert(arrays[name].item())
        return cls(**values)


def _read_archive(path: Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file at ``path``, read without pickle, or a ValueError."""
    with open(path, "rb") as handle:
        head = handle.read(len(_NPY_MAGIC))
    if not head.startswith(_NPZ_MAGIC):
        found = {b"": "is empty", _NPY_MAGIC: "is an .npy array, not an .npz archive"}
        what = found.get(head, f"does not start as an .npz archive does ({head[:4]!r})")
        raise ValueError(f"{path} is not a FixedPoints file: it {what}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        reason = (
            "it holds Python objects, which are never unpickled"
            if "pickle" in str(error)
            else error
        )
        raise ValueError(
            f"{path} cannot be read as an .npz archive of arrays ({reason})"
        ) from error


def _result_class(arrays: dict[str, np.ndarray], path: Path, cls: type) -> type[FixedPoints]:
    """The class recorded in a saved file, checked against ``cls`` and the file format."""
    if "kind" not in arrays or "format" not in arrays:
        raise ValueError(f"{path} was not written by FixedPoints.save (no kind or format)")
    kind, version = str(arrays["kind"]), str(arrays["format"])
    target = _RESULT_CLASSES.get(kind)
    if target is None or not issubclass(target, cls):
        raise ValueError(f"{path} holds {kind!r}, not {cls.__name__}")
    if version != str(_FILE_FORMAT):
        raise ValueError(f"{path} has file format {version}, expected {_FILE_FORMAT}")
    return target


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
