"""Figures: one style, and :func:`save_figure` as the only way a figure reaches ``figures/``."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from PIL import Image

from fhnrnn._paths import atomic_write_bytes, output_root

if TYPE_CHECKING:
    from fhnrnn.fhn import FHN, LimitCycle

STYLE_PATH = Path(__file__).with_name("fhnrnn.mplstyle")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
# File systems allow 255 bytes per name; the longest file written is ".NAME.pdf.XXXXXXXX.tmp".
_NAME_MAX = 200
# Fixed metadata: a rerun that draws the same figure writes the same bytes.
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}


TEXT_WIDTH = 6.378
"""Width of the paper's text in inches: ``\\textwidth`` of ``paper/main.tex`` (A4, 2.4 cm
margins). A figure drawn this wide or narrower is included at its natural size."""

PAPER_FIGURE_SIZES: dict[str, tuple[float, float]] = {
    "fhn_timeseries": (TEXT_WIDTH, 2.3),
    "fhn_phase_plane": (TEXT_WIDTH, 2.9),
    "fhn_fixed_points": (TEXT_WIDTH, 2.2),
    "fhn_bifurcation": (TEXT_WIDTH, 3.6),
    "fhn_fixed_point_curve": (4.2, 3.6),
    "sine_outputs": (4.6, 4.3),
    "sine_eigenfrequency": (TEXT_WIDTH, 2.4),
    "sine_pca": (4.0, 3.1),
    "fhn_rnn_fit": (TEXT_WIDTH, 2.5),
    "fhn_rnn_pca": (TEXT_WIDTH, 2.8),
    "fhn_translation": (5.4, 3.6),
    "fhn_departure": (TEXT_WIDTH, 2.5),
    "fhn_comparison": (5.0, 3.1),
    "fhn_eigenvalues": (TEXT_WIDTH, 2.9),
    "rnn_branch": (5.0, 4.0),
    "rnn_fixed_points": (4.2, 3.2),
    "rnn_eigenvalues": (TEXT_WIDTH, 2.4),
    "rnn_bifurcation": (TEXT_WIDTH, 3.6),
    "rnn_hopf_band": (TEXT_WIDTH, 2.4),
    "ensemble_vstar": (TEXT_WIDTH, 4.4),
    "ensemble_errors": (TEXT_WIDTH, 3.2),
    "ensemble_geometry": (TEXT_WIDTH, 3.2),
    "ensemble_training": (TEXT_WIDTH, 2.8),
    "ensemble_regression": (TEXT_WIDTH, 3.2),
    "ensemble_oscillator": (TEXT_WIDTH, 3.2),
    "ensemble_identifiability": (TEXT_WIDTH, 3.4),
    "osc_cycles": (TEXT_WIDTH, 2.4),
    "osc_exponents": (TEXT_WIDTH, 2.4),
    "osc_prc": (TEXT_WIDTH, 2.3),
    "osc_slow_points": (TEXT_WIDTH, 2.6),
}
"""Figure name -> (width, height) in inches: the size the paper prints it at, drawn 1:1."""


def paper_figsize(name: str) -> tuple[float, float]:
    """``figsize`` of the paper's figure ``name`` (:data:`PAPER_FIGURE_SIZES`).

    Raises
    ------
    ValueError
        If ``name`` is not a figure of the paper.
    """
    if name not in PAPER_FIGURE_SIZES:
        raise ValueError(f"name must be one of {sorted(PAPER_FIGURE_SIZES)}, got {name!r}")
    return PAPER_FIGURE_SIZES[name]


def use_style() -> None:
    """Apply the project's matplotlib style (call once at the top of a notebook)."""
    plt.style.use(STYLE_PATH)


def figures_dir() -> Path:
    """Folder that :func:`save_figure` writes to.

    ``figures/`` under :func:`fhnrnn._paths.output_root`: the paper's own folder only in runs
    that the project starts, ``build/scratch/figures/`` in a notebook run by hand.
    """
    return output_root() / "figures"


def save_figure(fig: Figure, name: str, *, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Write ``fig`` to ``figures/NAME.png`` and ``figures/NAME.pdf``.

    Files are written atomically with fixed metadata, so rerunning a notebook that draws the
    same figure leaves the bytes unchanged.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    name : str
        File stem: letters, digits, ``_`` and ``-``, at most 200 characters.
    formats : tuple of str, default ("png", "pdf")
        File formats to write.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    _check_figure_and_name(fig, name)
    _check_formats(formats, _METADATA)
    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, metadata=_METADATA[fmt])
        path = figures_dir() / f"{name}.{fmt}"
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def _check_figure_and_name(fig: Figure, name: str) -> None:
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be letters, digits, '_' or '-', got {name!r}")
    if len(name) > _NAME_MAX:
        raise ValueError(f"name must be at most {_NAME_MAX} characters, got {len(name)}")


def _check_formats(formats: tuple[str, ...], known: Sequence[str]) -> None:
    if not formats or set(formats) - set(known):
        raise ValueError(f"formats must be drawn from {sorted(known)}, got {formats!r}")


# ---------------------------------------------------------------------------- animations

_ANIMATION_FORMATS = ("gif", "mp4")
# ffmpeg without its version, creation time or any other metadata in the file.
_FFMPEG_FIXED = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1"]


def save_animation(
    fig: Figure,
    update: Callable[[int], object],
    n_frames: int,
    name: str,
    *,
    fps: float = 6.0,
    dpi: float = 80.0,
    formats: tuple[str, ...] | None = None,
) -> list[Path]:
    """Write an animation to ``figures/NAME.gif`` (and ``figures/NAME.mp4`` with ffmpeg).

    Frame ``k`` is what ``fig`` shows after ``update(k)``. Like :func:`save_figure`, files
    are written atomically and carry no timestamps or software versions, so redrawing the
    same frames writes the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure that ``update`` redraws.
    update : callable
        ``update(k)`` draws frame ``k`` on ``fig``, for ``k = 0, ..., n_frames - 1``.
    n_frames : int
        Number of frames (>= 1).
    name : str
        File stem: letters, digits, ``_`` and ``-``, at most 200 characters.
    fps : float, default 6
        Frames per second.
    dpi : float, default 80
        Resolution of the frames.
    formats : tuple of str, optional
        Drawn from ``("gif", "mp4")``; by default the GIF, and the MP4 when ffmpeg is on the
        path.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ValueError
        For a bad figure, name, frame count, rate or format, or ``"mp4"`` without ffmpeg.
    """
    _check_figure_and_name(fig, name)
    ffmpeg = shutil.which("ffmpeg")
    if formats is None:
        formats = ("gif", "mp4") if ffmpeg else ("gif",)
    _check_formats(formats, _ANIMATION_FORMATS)
    if "mp4" in formats and not ffmpeg:
        raise ValueError("formats: 'mp4' needs ffmpeg, which is not on the path")
    if not isinstance(n_frames, int) or n_frames < 1:
        raise ValueError(f"n_frames must be an integer >= 1, got {n_frames!r}")
    if not (np.isfinite(fps) and fps > 0 and np.isfinite(dpi) and dpi > 0):
        raise ValueError(f"fps and dpi must be finite and > 0, got {fps!r} and {dpi!r}")
    frames = [_frame(fig, update, index, dpi) for index in range(n_frames)]
    encoders = {"gif": _gif_bytes, "mp4": lambda f, rate: _mp4_bytes(f, rate, ffmpeg)}
    written = []
    for fmt in formats:
        path = figures_dir() / f"{name}.{fmt}"
        atomic_write_bytes(path, encoders[fmt](frames, fps))
        written.append(path)
    return written


def _frame(fig: Figure, update: Callable[[int], object], index: int, dpi: float) -> Image.Image:
    """Frame ``index`` as an RGB image; every frame has the figure's full size."""
    update(index)
    buffer = io.BytesIO()
    with plt.rc_context({"savefig.bbox": "standard"}):
        fig.savefig(buffer, format="png", dpi=dpi, metadata=_METADATA["png"])
    return Image.open(buffer).convert("RGB")


def _gif_bytes(frames: list[Image.Image], fps: float) -> bytes:
    palette = [frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=256) for frame in frames]
    buffer = io.BytesIO()
    palette[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=palette[1:],
        duration=round(1000 / fps),
        loop=0,
    )
    return buffer.getvalue()


def _mp4_bytes(frames: list[Image.Image], fps: float, ffmpeg: str) -> bytes:
    """H.264 in MP4 from ffmpeg, fed raw RGB frames (padded to even sizes for yuv420p)."""
    width, height = frames[0].size
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "animation.mp4"
        command = [ffmpeg, "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]
        command += ["-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-"]
        command += ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white", "-c:v", "libx264"]
        command += ["-pix_fmt", "yuv420p", "-threads", "1", *_FFMPEG_FIXED, str(target)]
        raw = b"".join(frame.tobytes() for frame in frames)
        subprocess.run(command, input=raw, check=True, capture_output=True)
        return target.read_bytes()


# ---------------------------------------------------------------------------- FHN figures

CLASS_COLORS = {
    "stable node": "#0072B2",
    "stable focus": "#56B4E9",
    "unstable node": "#D55E00",
    "unstable focus": "#E69F00",
    "center": "#000000",
}
"""One colour per fixed-point type (the labels of :data:`fhnrnn.fhn.CLASSES`)."""


def _class_runs(labels: np.ndarray) -> list[tuple[str, slice]]:
    """Contiguous runs of equal labels, each slice extended by one sample to join the next."""
    starts = [0, *(np.flatnonzero(labels[1:] != labels[:-1]) + 1)]
    ends = [*starts[1:], labels.size]
    return [
        (str(labels[s]), slice(s, min(e + 1, labels.size)))
        for s, e in zip(starts, ends, strict=True)
    ]


def _plot_by_class(
    ax: Axes, labels: np.ndarray, coordinates: Sequence[np.ndarray], lw: float
) -> None:
    """Draw a line through ``coordinates`` (each of shape (n,)), coloured by ``labels`` (n,).

    Each type enters the legend once, however many runs of it the line has.
    """
    drawn = set()
    for kind, part in _class_runs(labels):
        ax.plot(
            *(values[part] for values in coordinates),
            color=CLASS_COLORS[kind],
            lw=lw,
            label=None if kind in drawn else kind,
        )
        drawn.add(kind)


def _format_eigenvalues(eigenvalues: np.ndarray) -> str:
    first, second = eigenvalues
    if first.imag != 0:
        return rf"$\lambda = {first.real:.3f} \pm {abs(first.imag):.3f}\,i$"
    return rf"$\lambda_1 = {first.real:.3f},\ \lambda_2 = {second.real:.3f}$"


def _mark_hopf(ax: Axes, hopf: tuple[float, float], label: bool = True) -> None:
    for index, point in enumerate(hopf):
        ax.axvline(
            point,
            color="0.4",
            lw=0.9,
            ls=":",
            label="Hopf points" if label and index == 0 else None,
        )


def plot_fhn_timeseries(
    times: np.ndarray,
    runs: Mapping[str, np.ndarray],
    *,
    title: str | None = None,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """``v(t)`` and ``w(t)`` side by side for one or more runs.

    Parameters
    ----------
    times : ndarray, shape (T,)
    runs : mapping of str to ndarray, shape (T, 2)
        Legend label -> states ``(v, w)``; the first run is drawn boldest.
    title : str, optional
        Figure title.
    axes : pair of Axes, optional
        Where to draw; a new 1 x 2 figure by default.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if axes is None:
        _, axes = plt.subplots(
            1, 2, figsize=paper_figsize("fhn_timeseries"), sharex=True, layout="constrained"
        )
    styles = [{"lw": 1.8}, {"lw": 1.1, "ls": "--"}, {"lw": 1.0, "ls": ":"}]
    for index, (label, states) in enumerate(runs.items()):
        for column, ax in enumerate(axes):
            ax.plot(times, states[:, column], label=label, **styles[index % len(styles)])
    for ax, name in zip(axes, ("voltage $v$", "recovery variable $w$"), strict=True):
        ax.set_xlabel("time $t$ (dimensionless)")
        ax.set_ylabel(name)
    figure = axes[0].figure
    if len(runs) > 1:
        figure.legend(
            *axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(runs)
        )
    if title:
        figure.suptitle(title)
    return figure


STAR = {"marker": "*", "ls": "none", "ms": 14, "mec": "black", "mew": 0.6, "zorder": 5}
"""Marker style of a fixed point (coloured by its type with :data:`CLASS_COLORS`)."""


def plot_direction_field(ax: Axes, positions: np.ndarray, velocity: np.ndarray) -> None:
    """Grey arrows of equal length along ``velocity`` (N, 2) at ``positions`` (N, 2)."""
    speed = np.hypot(velocity[:, 0], velocity[:, 1])[:, None] + 1e-12
    direction = velocity / speed
    ax.quiver(
        positions[:, 0],
        positions[:, 1],
        direction[:, 0],
        direction[:, 1],
        color="0.75",
        angles="xy",
        scale=40,
        width=0.0025,
    )


def plot_phase_plane(
    ax: Axes,
    model: FHN,
    I: float,
    *,
    trajectory: np.ndarray | None = None,
    v_range: tuple[float, float] = (-2.5, 2.5),
    w_range: tuple[float, float] = (-1.0, 3.0),
) -> Axes:
    """Phase plane at current ``I``: direction field, both nullclines, a trajectory, and the
    fixed point coloured by type (named in the title) with its eigenvalues.

    Parameters
    ----------
    ax : Axes
    model : fhnrnn.fhn.FHN
    I : float
    trajectory : ndarray, shape (T, 2), optional
        States ``(v, w)`` to draw, with an open circle at the start.
    v_range, w_range : pair of float
        Axis limits.

    Returns
    -------
    Axes
    """
    v_grid, w_grid = np.meshgrid(np.linspace(*v_range, 21), np.linspace(*w_range, 17))
    grid = np.column_stack([v_grid.ravel(), w_grid.ravel()])
    plot_direction_field(ax, grid, model.rhs(grid, I))
    v = np.linspace(*v_range, 400)
    w_v, w_w = model.nullclines(v, I)
    ax.plot(v, w_v, color="#0072B2", label=r"$v$-nullcline ($\dot v = 0$)")
    ax.plot(v, w_w, color="#009E73", label=r"$w$-nullcline ($\dot w = 0$)")
    if trajectory is not None:
        ax.plot(trajectory[:, 0], trajectory[:, 1], color="0.15", lw=1.0, label="trajectory")
        ax.plot(*trajectory[0], "o", mfc="white", mec="0.15", ms=5)
    kind = model.classify(I)
    v_star, w_star = model.fixed_point(I)
    ax.plot(
        v_star, w_star, color=CLASS_COLORS[kind], label="fixed point (coloured by type)", **STAR
    )
    ax.text(
        0.03,
        0.97,
        _format_eigenvalues(model.eigenvalues(I)),
        transform=ax.transAxes,
        va="top",
        bbox={"fc": "white", "ec": "0.8", "alpha": 0.9},
    )
    ax.set(
        xlim=v_range,
        ylim=w_range,
        xlabel="voltage $v$",
        ylabel="recovery variable $w$",
        title=f"$I = {I:g}$: {kind}",
    )
    ax.grid(False)
    return ax


def plot_fixed_points(
    model: FHN,
    I: np.ndarray,
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """``v*(I)`` and ``w*(I)``, coloured by the type of the fixed point, Hopf points marked.

    Parameters
    ----------
    model : fhnrnn.fhn.FHN
    I : ndarray, shape (n,)
        Increasing currents.
    axes : pair of Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if axes is None:
        _, axes = plt.subplots(
            1, 2, figsize=paper_figsize("fhn_fixed_points"), sharex=True, layout="constrained"
        )
    values = model.fixed_point(I)
    labels = model.classify(I)
    for ax, value, name in zip(axes, values, ("$v^*$", "$w^*$"), strict=True):
        _plot_by_class(ax, labels, (I, value), lw=2.4)
        _mark_hopf(ax, model.hopf_points())
        ax.set(xlabel="current $I$", ylabel=f"fixed point {name}")
    axes[0].legend(loc="upper left")
    return axes[0].figure


def _draw_fixed_point_branch(ax: Axes, model: FHN, low: float, high: float) -> None:
    """``v*`` over ``[low, high]``: solid where stable, dashed where unstable."""
    fine = np.linspace(low, high, 800)
    v_star = model.fixed_point(fine)[0]
    stable = model.eigenvalues(fine)[:, 0].real < 0
    ax.plot(fine, np.where(stable, v_star, np.nan), color="black", label="fixed point, stable")
    ax.plot(
        fine,
        np.where(stable, np.nan, v_star),
        color="black",
        ls="--",
        label="fixed point, unstable",
    )


def _draw_cycles(top: Axes, bottom: Axes, at: np.ndarray, cycles: list[LimitCycle]) -> None:
    """Cycle extremes and mean of ``v`` on ``top``, the period on ``bottom``."""
    cycle_color, mean_color = "#D55E00", "#0072B2"
    top.plot(
        at,
        [c.v_max for c in cycles],
        "o",
        ms=3.5,
        color=cycle_color,
        label="limit cycle, max / min $v$",
    )
    top.plot(at, [c.v_min for c in cycles], "o", ms=3.5, color=cycle_color)
    top.plot(
        at,
        [c.v_mean for c in cycles],
        "s",
        ms=3,
        mfc="none",
        color=mean_color,
        label=r"limit cycle, mean $\langle v \rangle$",
    )
    bottom.plot(at, [c.period for c in cycles], "o-", ms=3.5, color=cycle_color)


def plot_bifurcation(
    model: FHN,
    I: np.ndarray,
    cycles: Sequence[LimitCycle | None],
    *,
    oscillation_range: tuple[float, float] | None = None,
    axes: Sequence[Axes] | None = None,
    legend: bool = True,
) -> Figure:
    """Bifurcation diagram in ``I``: fixed point (solid stable, dashed unstable), limit-cycle
    extremes and mean of ``v``, and the period below.

    Parameters
    ----------
    model : fhnrnn.fhn.FHN
    I : ndarray, shape (n,)
        Increasing currents at which ``cycles`` were computed.
    cycles : sequence of LimitCycle or None, length n
        :meth:`fhnrnn.fhn.FHN.limit_cycle` at each current (None where it rests).
    oscillation_range : pair of float, optional
        Currents where oscillation from the start state begins and ends (drawn dash-dotted).
    axes : pair of Axes, optional
        Top (voltage) and bottom (period) axes; a new 2 x 1 figure by default.
    legend : bool, default True
        Draw the legend on the top axes.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``cycles`` does not have one entry per current.
    """
    if len(cycles) != len(I):
        raise ValueError(f"cycles must have one entry per current ({len(I)}), got {len(cycles)}")
    if axes is None:
        _, axes = plt.subplots(
            2, 1, figsize=(4.4, 4.0), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
        )
    top, bottom = axes
    _draw_fixed_point_branch(top, model, float(np.min(I)), float(np.max(I)))
    found = [(current, cycle) for current, cycle in zip(I, cycles, strict=True) if cycle]
    if found:
        _draw_cycles(top, bottom, np.array([f[0] for f in found]), [f[1] for f in found])
    for ax in axes:
        _mark_hopf(ax, model.hopf_points(), label=ax is top)
        for index, point in enumerate(oscillation_range or ()):
            label = "oscillation from rest begins / ends" if ax is top and index == 0 else None
            ax.axvline(point, color="#CC79A7", lw=0.9, ls="-.", label=label)
    pad = 0.02 * (np.max(I) - np.min(I))
    for ax in axes:
        ax.set_xlim(np.min(I) - pad, np.max(I) + pad)
    top.set_ylabel("voltage $v$")
    top.set_ylim(-2.6, 4.4)  # room above the cycle maxima for the legend
    if legend:
        top.legend(loc="upper left", ncol=2)
    bottom.set(xlabel="current $I$", ylabel="period (dimensionless)")
    return top.figure


def plot_fixed_point_curve(
    model: FHN,
    I: np.ndarray,
    *,
    ax: Axes | None = None,
) -> Figure:
    """The curve of fixed points ``(v*(I), w*(I), I)`` in 3-D, coloured by type.

    Parameters
    ----------
    model : fhnrnn.fhn.FHN
    I : ndarray, shape (n,)
        Increasing currents.
    ax : 3-D Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        ax = plt.figure(figsize=paper_figsize("fhn_fixed_point_curve")).add_subplot(projection="3d")
    v_star, w_star = model.fixed_point(I)
    _plot_by_class(ax, model.classify(I), (v_star, w_star, I), lw=2.6)
    hopf = np.array(model.hopf_points())
    hopf_v, hopf_w = model.fixed_point(hopf)
    ax.scatter(hopf_v, hopf_w, hopf, color="black", s=25, depthshade=False, label="Hopf points")
    ax.set(xlabel="$v^*$", ylabel="$w^*$", zlabel="current $I$")
    ax.legend(loc="upper left")
    return ax.figure


def fhn_sweep_animation(
    model: FHN,
    currents: ArrayLike,
    trajectories: ArrayLike,
    network_currents: ArrayLike,
    network_v: ArrayLike,
) -> tuple[Figure, Callable[[int], Axes]]:
    """The FHN phase plane swept over the current, for :func:`save_animation`.

    Frame ``k`` is :func:`plot_phase_plane` at ``currents[k]`` (nullclines, trajectory, the
    fixed point ``v*`` coloured and named by its type, with its eigenvalues), and, wherever
    the network has fixed points at that current, their translated voltages ``ṽ*`` placed
    on the ``w``-nullcline ``w = (ṽ* + a) / b``. The network's points at the currents
    already swept stay as small dots.

    Parameters
    ----------
    model : fhnrnn.fhn.FHN
    currents : array_like, shape (K,)
        Current of each frame, increasing.
    trajectories : array_like, shape (K, T, 2)
        The trajectory ``(v, w)`` drawn in each frame.
    network_currents, network_v : array_like, shape (N,)
        Current and translated voltage ``ṽ*`` of each of the network's fixed points.

    Returns
    -------
    fig : matplotlib.figure.Figure
    update : callable
        ``update(k)`` draws frame ``k``.
    """
    frames = _array(currents, "currents", 1)
    paths = _array(trajectories, "trajectories", 3)
    at = _array(network_currents, "network_currents", 1)
    v_tilde = _array(network_v, "network_v", 1)
    if paths.shape[0] != frames.size or paths.shape[2] != 2:
        raise ValueError(f"trajectories must have shape ({frames.size}, T, 2), got {paths.shape}")
    if at.shape != v_tilde.shape:
        raise ValueError("network_currents and network_v must have the same shape")
    fig, ax = plt.subplots(figsize=(8.6, 4.6), layout="constrained")

    def update(index: int) -> Axes:
        ax.clear()
        plot_phase_plane(ax, model, frames[index], trajectory=paths[index])
        here = np.isclose(at, frames[index], rtol=0.0, atol=1e-9)
        before = (at < frames[index]) & ~here
        w_tilde = (v_tilde + model.a) / model.b
        dots = {"ls": "none", "color": _NETWORK_COLOR}
        ax.plot(v_tilde[before], w_tilde[before], "o", ms=3, alpha=0.6, label=_SWEPT_LABEL, **dots)
        ax.plot(
            v_tilde[here],
            w_tilde[here],
            "X",
            ms=10,
            mec="black",
            mew=0.6,
            zorder=6,
            label=_NETWORK_LABEL,
            **dots,
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        return ax

    return fig, update


_NETWORK_COLOR = "#CC79A7"
_SWEPT_LABEL = r"network $\tilde v^*$ at the currents swept"
_NETWORK_LABEL = r"network $\tilde v^*$ at this current ($w$ on the $w$-nullcline)"


# ------------------------------------------------ sine-wave validation (notebook 02)
def _array(value: ArrayLike, name: str, ndim: int) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    return array


def plot_sine_outputs(
    times: ArrayLike,
    targets: ArrayLike,
    outputs: ArrayLike,
    labels: Sequence[str],
) -> Figure:
    """Outputs against targets, one panel per condition, stacked with a shared time axis.

    Parameters
    ----------
    times : array_like, shape (T,)
        Sample times.
    targets, outputs : array_like, shape (C, T)
        Target and network output of each shown condition.
    labels : sequence of str, length C
        Panel titles (e.g. the frequency and error of each condition).

    Returns
    -------
    matplotlib.figure.Figure
    """
    times = _array(times, "times", 1)
    targets = _array(targets, "targets", 2)
    outputs = _array(outputs, "outputs", 2)
    if targets.shape != outputs.shape or targets.shape[1] != times.size:
        raise ValueError(
            f"targets and outputs must both have shape (C, T) with T = {times.size}, got "
            f"{targets.shape} and {outputs.shape}"
        )
    if len(labels) != targets.shape[0]:
        raise ValueError(f"labels must hold {targets.shape[0]} strings, got {len(labels)}")
    n_panels = targets.shape[0]
    width = paper_figsize("sine_outputs")[0]
    fig, axes = plt.subplots(
        n_panels, 1, sharex=True, figsize=(width, 0.95 * n_panels + 0.5), squeeze=False
    )
    for ax, target, output, label in zip(axes[:, 0], targets, outputs, labels, strict=True):
        ax.plot(times, target, color="0.6", lw=3.0, label="target")
        ax.plot(times, output, color="C0", lw=1.0, label="network")
        ax.set_ylim(-1.35, 1.35)
        ax.set_ylabel("z")
        ax.set_title(label, loc="left")
    axes[0, 0].legend(loc="upper right", ncol=2)
    axes[-1, 0].set_xlabel("time")
    fig.tight_layout()
    return fig


def plot_pca_trajectories(
    trajectories: ArrayLike,
    points: ArrayLike,
    trajectory_values: ArrayLike,
    point_values: ArrayLike,
    *,
    value_label: str,
    explained: ArrayLike | None = None,
) -> Figure:
    """Trajectories and fixed points in three principal components, coloured by a value.

    The fixed points are drawn as stars joined in the order of their value, so that a
    one-dimensional family of fixed points shows as a curve.

    Parameters
    ----------
    trajectories : array_like, shape (B, T, 3)
        Projected hidden-state trajectories.
    points : array_like, shape (K, 3)
        Projected fixed points.
    trajectory_values : array_like, shape (B,)
        Value (e.g. the input) that colours each trajectory.
    point_values : array_like, shape (K,)
        Value that colours each fixed point and orders the joining line.
    value_label : str
        Colour-bar label.
    explained : array_like, shape (3,), optional
        Explained-variance fraction of each component, added to the axis labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    trajectories = _array(trajectories, "trajectories", 3)
    points = _array(points, "points", 2)
    trajectory_values = _array(trajectory_values, "trajectory_values", 1)
    point_values = _array(point_values, "point_values", 1)
    if trajectories.shape[2] != 3 or points.shape[1:] != (3,):
        raise ValueError(
            "trajectories and points must have 3 components, got shapes "
            f"{trajectories.shape} and {points.shape}"
        )
    if trajectory_values.size != trajectories.shape[0] or point_values.size != points.shape[0]:
        raise ValueError("trajectory_values and point_values need one value per row")
    values = np.concatenate([trajectory_values, point_values])
    colours = plt.cm.viridis(Normalize(values.min(), values.max())(values))
    fig = plt.figure(figsize=paper_figsize("sine_pca"))
    ax = fig.add_subplot(projection="3d")
    for path, colour in zip(trajectories, colours, strict=False):
        ax.plot(*path.T, color=colour, lw=0.6, alpha=0.8)
    order = np.argsort(point_values)
    ax.plot(*points[order].T, color="crimson", lw=1.2, zorder=5)
    ax.scatter(
        *points.T, marker="*", s=50, c="crimson", depthshade=False, zorder=6, label="fixed points"
    )
    names = [f"PC {k + 1}" for k in range(3)]
    if explained is not None:
        shares = _array(explained, "explained", 1)
        names = [f"{name} ({100 * share:.0f} %)" for name, share in zip(names, shares, strict=True)]
    ax.set(xlabel=names[0], ylabel=names[1], zlabel=names[2])
    ax.set_box_aspect(None, zoom=0.85)  # room for the axis labels beside the colour bar
    ax.legend(loc="upper left")
    mappable = plt.cm.ScalarMappable(Normalize(values.min(), values.max()), "viridis")
    fig.colorbar(mappable, ax=ax, shrink=0.6, pad=0.12, label=value_label)
    return fig


def plot_eigenfrequencies(
    series: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]],
    *,
    tolerance: float = 0.05,
) -> Figure:
    """Rotation rate and modulus of the leading eigenvalue against the target frequency.

    Three panels: the rate ``|arg(lambda)| / dt`` against the target ``omega`` (with the
    identity line), the relative error ``rate / omega - 1`` in percent (with a band of
    ``+-tolerance``), and ``|lambda|`` (with the line ``|lambda| = 1``).

    Parameters
    ----------
    series : mapping of str to (omega, rate, modulus)
        For each legend label, three arrays of shape (K,): the target frequency of each
        fixed point's input, the rotation rate of its leading eigenvalue, and its modulus.
    tolerance : float
        Half-width (relative) of the shaded band in the error panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not series:
        raise ValueError("series must hold at least one (omega, rate, modulus) triple")
    if not (np.isfinite(tolerance) and tolerance > 0):
        raise ValueError(f"tolerance must be finite and > 0, got {tolerance!r}")
    fig, (ax_rate, ax_error, ax_modulus) = plt.subplots(
        1, 3, figsize=paper_figsize("sine_eigenfrequency"), layout="constrained"
    )
    low, high = np.inf, -np.inf
    markers = ["o", "s", "^", "D"]
    for index, (label, (omega, rate, modulus)) in enumerate(series.items()):
        omega, rate, modulus = (
            _array(a, name, 1)
            for a, name in ((omega, "omega"), (rate, "rate"), (modulus, "modulus"))
        )
        if not omega.size == rate.size == modulus.size:
            raise ValueError(f"series {label!r}: omega, rate and modulus must have equal sizes")
        style = {
            "marker": markers[index % len(markers)],
            "ms": 3.5,
            "ls": "none",
            "color": f"C{index}",
            "label": label,
        }
        ax_rate.plot(omega, rate, **style)
        ax_error.plot(omega, 100 * (rate / omega - 1), **style)
        ax_modulus.plot(omega, modulus, **style)
        low, high = min(low, omega.min()), max(high, omega.max())
    ax_rate.plot([low, high], [low, high], color="0.5", lw=0.8, zorder=0, label=r"rate $= \omega$")
    ax_error.axhspan(
        -100 * tolerance,
        100 * tolerance,
        color="0.9",
        zorder=0,
        label=rf"$\pm${100 * tolerance:.0f} %",
    )
    ax_error.axhline(0.0, color="0.5", lw=0.8, zorder=0)
    ax_modulus.axhline(1.0, color="0.5", lw=0.8, zorder=0)
    omega_label = r"target $\omega$"
    ax_rate.set(
        xlabel=omega_label, ylabel=r"$|\arg \lambda| \,/\, \Delta t$", title="rotation rate"
    )
    ax_error.set(xlabel=omega_label, ylabel="relative error (%)", title="rate against target")
    ax_modulus.set(xlabel=omega_label, ylabel=r"$|\lambda|$", title="modulus")
    handles, labels = ax_rate.get_legend_handles_labels()
    band = ax_error.get_legend_handles_labels()
    fig.legend(
        [*handles, band[0][-1]],
        [*labels, band[1][-1]],
        loc="outside lower center",
        ncol=len(labels) + 1,
    )
    return fig


def plot_piecewise_curve(
    components: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    events: Sequence[tuple[str, float, float]],
    fhn_currents: np.ndarray,
    fhn_voltage: np.ndarray,
    fhn_unstable: np.ndarray,
    hopf: tuple[float, float],
    *,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """A piecewise-linear fixed-point curve coloured by its count of unstable multipliers.

    Parameters
    ----------
    components : sequence of (u (V,), v (V,), n_unstable (V - 1,))
        Each component's vertices (current, read-out voltage) and its segments' counts.
    events : sequence of (kind, u, v)
        ``"fold"`` (drawn as crosses) or ``"border collision"`` (dots) at (u, v).
    fhn_currents, fhn_voltage, fhn_unstable : ndarray, shape (n,)
        The FHN fixed point's voltage and number of unstable eigenvalues over a grid.
    hopf : (float, float)
        The FHN Hopf currents (dotted lines).
    figsize : (float, float), optional
        The paper's size of ``rnn_branch`` by default.

    Returns
    -------
    Figure
        Top: voltage against current; bottom: unstable multipliers against current.
    """
    figsize = figsize or paper_figsize("rnn_branch")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=figsize, sharex=True, layout="constrained",
                                      gridspec_kw={"height_ratios": [3, 2]})
    stable = fhn_unstable == 0
    top.plot(fhn_currents, np.where(stable, fhn_voltage, np.nan), color="k", lw=1.5,
             label=r"FHN $v^*$, stable")
    top.plot(fhn_currents, np.where(stable, np.nan, fhn_voltage), color="k", lw=1.5, ls="--",
             label=r"FHN $v^*$, unstable")
    counts = np.concatenate([n for _, _, n in components])
    norm = Normalize(vmin=counts.min() - 0.5, vmax=counts.max() + 0.5)
    cmap = plt.get_cmap("viridis", int(counts.max() - counts.min()) + 1)
    for u, v, n_unstable in components:
        segments = np.stack([np.column_stack([u[:-1], v[:-1]]), np.column_stack([u[1:], v[1:]])],
                            axis=1)
        top.add_collection(LineCollection(segments, cmap=cmap, norm=norm, array=n_unstable,
                                          linewidths=2.0))
        bottom.hlines(n_unstable, u[:-1], u[1:], colors=cmap(norm(n_unstable)), lw=2.5,
                      label="RNN" if u is components[0][0] else None)
    for kind, marker in (("fold", "x"), ("border collision", ".")):
        chosen = [(u, v) for name, u, v in events if name == kind]
        if chosen:
            top.plot(*np.array(chosen).T, marker, color="C3", ms=7, ls="none",
                     label=f"RNN {kind}s")
    for index, current in enumerate(hopf):
        for ax in (top, bottom):
            ax.axvline(current, color="0.5", lw=0.8, ls=":",
                       label="FHN Hopf points" if index == 0 and ax is top else None)
    colorbar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=[top, bottom])
    colorbar.set_label("unstable multipliers (RNN)")
    colorbar.set_ticks(np.arange(counts.min(), counts.max() + 1))
    top.set(ylabel="fixed-point voltage")
    top.legend(loc="lower right")
    bottom.step(fhn_currents, fhn_unstable, where="mid", color="k", lw=1.5, label="FHN")
    bottom.set(xlabel="current $I$", ylabel="unstable", ylim=(-0.3, counts.max() + 0.5))
    bottom.legend(loc="center right")
    return fig


# ------------------------------------------------ the trained FHN network (notebooks 03, 05)
def plot_rnn_fit(
    loss: ArrayLike,
    times: ArrayLike,
    currents: ArrayLike,
    targets: ArrayLike,
    outputs: ArrayLike,
) -> Figure:
    """Training loss, and the network's voltage over the FHN's at a few currents.

    Parameters
    ----------
    loss : array_like, shape (U,)
        Minibatch MSE of each update (raw units).
    times : array_like, shape (T,)
    currents : array_like, shape (C,)
        Current of each trace (legend).
    targets, outputs : array_like, shape (C, T)
        FHN voltage and network output at each current.

    Returns
    -------
    matplotlib.figure.Figure
    """
    loss, times, currents = (_array(a, n, 1) for a, n in
                             ((loss, "loss"), (times, "times"), (currents, "currents")))
    targets, outputs = _array(targets, "targets", 2), _array(outputs, "outputs", 2)
    if targets.shape != outputs.shape or targets.shape != (currents.size, times.size):
        raise ValueError(f"targets and outputs must have shape ({currents.size}, {times.size}), "
                         f"got {targets.shape} and {outputs.shape}")
    fig, (ax_loss, ax_trace) = plt.subplots(
        1, 2, figsize=paper_figsize("fhn_rnn_fit"), width_ratios=[1, 2.4], layout="constrained"
    )
    ax_loss.semilogy(loss, lw=0.7)
    ax_loss.set(xlabel="update", ylabel="minibatch MSE", title="training loss")
    colours = plt.cm.viridis(np.linspace(0, 0.9, currents.size))
    for current, colour, target, output in zip(currents, colours, targets, outputs, strict=True):
        ax_trace.plot(times, target, color=colour, lw=2.2, alpha=0.35)
        ax_trace.plot(times, output, color=colour, lw=0.9, label=f"$I$ = {current:.2f}")
    ax_trace.set(xlabel="time $t$", ylabel="voltage $v$", title="FHN (thick, pale), network (thin)")
    fig.legend(*ax_trace.get_legend_handles_labels(), loc="outside lower center",
               ncol=currents.size)
    return fig


def plot_rnn_pca(
    paths: ArrayLike,
    path_currents: ArrayLike,
    points: ArrayLike,
    point_currents: ArrayLike,
    *,
    explained: ArrayLike,
) -> Figure:
    """Hidden-state trajectories and fixed points in principal components, coloured by current.

    Left: the first two components; right: the first three, in 3-D.

    Parameters
    ----------
    paths : array_like, shape (B, T, 3)
        Projected trajectories.
    path_currents : array_like, shape (B,)
    points : array_like, shape (K, 3)
        Projected fixed points.
    point_currents : array_like, shape (K,)
    explained : array_like, shape (3,)
        Explained-variance fraction of each component.

    Returns
    -------
    matplotlib.figure.Figure
    """
    paths, points = _array(paths, "paths", 3), _array(points, "points", 2)
    path_currents = _array(path_currents, "path_currents", 1)
    point_currents = _array(point_currents, "point_currents", 1)
    shares = _array(explained, "explained", 1)
    if paths.shape[2] != 3 or points.shape[1:] != (3,) or shares.size != 3:
        raise ValueError("paths, points and explained must have 3 components")
    if path_currents.size != paths.shape[0] or point_currents.size != points.shape[0]:
        raise ValueError("path_currents and point_currents need one current per row")
    values = np.concatenate([path_currents, point_currents])
    norm = Normalize(values.min(), values.max())
    fig = plt.figure(figsize=paper_figsize("fhn_rnn_pca"), layout="constrained")
    ax2 = fig.add_subplot(1, 2, 1)
    ax3 = fig.add_subplot(1, 2, 2, projection="3d")
    for path, current in zip(paths, path_currents, strict=True):
        ax2.plot(path[:, 0], path[:, 1], color=plt.cm.viridis(norm(current)), lw=0.5, alpha=0.7)
        ax3.plot(*path.T, color=plt.cm.viridis(norm(current)), lw=0.4, alpha=0.6)
    marker = {"c": point_currents, "norm": norm, "marker": "X", "edgecolors": "k",
              "linewidths": 0.4}
    ax2.scatter(*points[:, :2].T, s=28, zorder=3, label="fixed points", **marker)
    ax3.scatter(*points.T, s=22, depthshade=False, **marker)
    names = [f"PC{k + 1} ({share:.0%})" for k, share in enumerate(shares)]
    ax2.set(xlabel=names[0], ylabel=names[1], title="two components")
    ax2.legend(loc="upper right")
    ax3.set(xlabel="PC1", ylabel="PC2", zlabel="PC3", title="three components")
    for axis in (ax3.xaxis, ax3.yaxis, ax3.zaxis):
        axis.set_major_locator(plt.MaxNLocator(3))
        axis.labelpad = -2
    ax3.tick_params(pad=-1)
    ax3.set_box_aspect(None, zoom=0.85)  # room for the axis labels beside the colour bar
    fig.colorbar(plt.cm.ScalarMappable(norm=norm), ax=[ax2, ax3], label="current $I$",
                 shrink=0.8, pad=0.06)
    return fig


def plot_eigenvalue_comparison(
    currents: ArrayLike,
    mu_fhn: ArrayLike,
    network_currents: ArrayLike,
    mu_network: ArrayLike,
    cycle_currents: ArrayLike,
    cycle_frequency: ArrayLike,
    *,
    top: float = 1.5,
) -> Figure:
    """The network's leading continuous-time rate against the FHN's, real and imaginary parts.

    Parameters
    ----------
    currents : array_like, shape (n,)
    mu_fhn : array_like of complex, shape (n, 2)
        Both rates of the FHN's (Euler-map) linearisation at each current.
    network_currents : array_like, shape (K,)
    mu_network : array_like of complex, shape (K,)
        ``log(lambda_1) / dt`` of each network fixed point.
    cycle_currents, cycle_frequency : array_like, shape (m,)
        The FHN cycle's angular frequency ``2 pi / T`` where it exists.
    top : float, default 1.5
        Upper limit of the real-part axis; larger rates are drawn at the edge as triangles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    currents = _array(currents, "currents", 1)
    at = _array(network_currents, "network_currents", 1)
    mu_fhn, mu_network = np.asarray(mu_fhn, complex), np.asarray(mu_network, complex)
    if mu_fhn.shape != (currents.size, 2) or mu_network.shape != at.shape:
        raise ValueError(f"mu_fhn must have shape ({currents.size}, 2) and mu_network "
                         f"({at.size},), got {mu_fhn.shape} and {mu_network.shape}")
    fig, (ax_re, ax_im) = plt.subplots(1, 2, figsize=paper_figsize("fhn_eigenvalues"),
                                       layout="constrained")
    for k, style in enumerate(("-", "--")):
        ax_re.plot(currents, mu_fhn[:, k].real, color="k", ls=style,
                   label=rf"FHN $\mathrm{{Re}}\,\mu_{k + 1}$")
    off = mu_network.real > top
    ax_re.scatter(at[~off], mu_network.real[~off], color="C0", s=9, zorder=3,
                  label=r"network $\log|\lambda_1|/\Delta t$")
    if off.any():
        ax_re.scatter(at[off], np.full(off.sum(), 0.97 * top), color="C0", marker="^", s=18,
                      zorder=3, label=f"network, off scale (up to {mu_network.real.max():.1f})")
    ax_re.axhline(0, color="0.6", lw=0.6)
    ax_re.set_yscale("symlog", linthresh=0.1)
    ax_re.set_ylim(top=top)
    ax_re.set(xlabel="current $I$", ylabel="growth rate (symmetric log)", title="real parts")
    ax_im.plot(currents, np.abs(mu_fhn[:, 0].imag), color="k", label=r"FHN $|\mathrm{Im}\,\mu|$")
    ax_im.scatter(at, np.abs(mu_network.imag), color="C0", s=9, zorder=3,
                  label=r"network $|\arg\lambda_1|/\Delta t$")
    ax_im.plot(_array(cycle_currents, "cycle_currents", 1),
               _array(cycle_frequency, "cycle_frequency", 1), color="C1",
               label=r"FHN cycle $2\pi/T$")
    ax_im.set(xlabel="current $I$", ylabel="angular frequency", title="imaginary parts")
    handles = {label: h for ax in (ax_re, ax_im) for h, label in zip(
        *ax.get_legend_handles_labels(), strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=3)
    return fig


# ------------------------------------------------ translation and comparison (notebooks 04, 05)
def plot_translation(
    times: ArrayLike,
    on_point: ArrayLike,
    from_rest: ArrayLike,
    currents: ArrayLike,
    v_tilde: ArrayLike,
    departures: ArrayLike,
    tol: float,
) -> Figure:
    """The network's output started on fixed points, one panel per fixed point.

    Parameters
    ----------
    times : array_like, shape (T,)
    on_point, from_rest : array_like, shape (C, T)
        Output of the run started on the fixed point, and of the run from the zero state.
    currents, v_tilde : array_like, shape (C,)
        Current and translated voltage ``ṽ*`` of each fixed point.
    departures : array_like of int, shape (C,)
        First step at which ``|output - ṽ*| > tol``; ``T`` (or more) for a run that stays.
    tol : float
        The distance from ``ṽ*`` that counts as having left (named in the legend).

    Returns
    -------
    matplotlib.figure.Figure
    """
    times = _array(times, "times", 1)
    on_point, from_rest = _array(on_point, "on_point", 2), _array(from_rest, "from_rest", 2)
    currents, v_tilde = _array(currents, "currents", 1), _array(v_tilde, "v_tilde", 1)
    steps = np.asarray(departures, dtype=int)
    shape = (currents.size, times.size)
    if on_point.shape != shape or from_rest.shape != shape:
        raise ValueError(f"on_point and from_rest must have shape {shape}, got "
                         f"{on_point.shape} and {from_rest.shape}")
    if v_tilde.shape != currents.shape or steps.shape != currents.shape:
        raise ValueError(f"v_tilde and departures need one value per current ({currents.size})")
    fig, axes = plt.subplots(currents.size, 1, figsize=paper_figsize("fhn_translation"),
                             sharex=True, squeeze=False, layout="constrained")
    for ax, path, rest, current, level, step in zip(
            axes[:, 0], on_point, from_rest, currents, v_tilde, steps, strict=True):
        ax.plot(times, rest, color="0.75", lw=0.8, label="from the zero state")
        ax.plot(times, path, color="C0", lw=1.1, label="from the fixed point")
        ax.axhline(level, color="C3", ls="--", lw=0.9, label=r"$\tilde v^*$")
        held = f"leaves after {step} steps" if step < times.size else "stays all the run"
        if step < times.size:
            ax.axvline(times[step], color="k", ls=":", lw=0.9,
                       label=rf"output leaves $\tilde v^* \pm {tol:g}$")
        ax.set_title(rf"$I$ = {current:.3f}, $\tilde v^*$ = {level:+.3f}: {held}", loc="left")
        ax.set_ylabel("output")
    axes[-1, 0].set_xlabel("time $t$")
    handles = {label: h for ax in axes[:, 0] for h, label in zip(
        *ax.get_legend_handles_labels(), strict=True)}
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncol=len(handles))
    return fig


def plot_departure(
    log_inverse_offsets: ArrayLike,
    measured: ArrayLike,
    predicted: ArrayLike,
    left: ArrayLike,
    currents: ArrayLike,
    modulus: ArrayLike,
    slopes: ArrayLike,
) -> Figure:
    """Departure steps from fixed points against the start offset, and their slopes.

    Left: measured (solid, where the run left) and predicted (dashed) departure step against
    ``log(1/epsilon)``, one line per fixed point coloured by its current. Right: the fitted
    slope of each fixed point against the predicted ``1 / log|lambda_1|``.

    Parameters
    ----------
    log_inverse_offsets : array_like, shape (E,)
        ``log(1/epsilon)`` of each start offset.
    measured, predicted : array_like, shape (E, P)
        Measured and predicted departure step of each offset and fixed point.
    left : array_like of bool, shape (E, P)
        Whether the run left within its length (only those measured steps are drawn).
    currents, modulus : array_like, shape (P,)
        Current and leading-eigenvalue modulus ``|lambda_1| > 1`` of each fixed point.
    slopes : array_like, shape (P,)
        Fitted slope of each fixed point; NaN where too few runs left to fit one (not drawn).

    Returns
    -------
    matplotlib.figure.Figure
    """
    logs = _array(log_inverse_offsets, "log_inverse_offsets", 1)
    measured, predicted = _array(measured, "measured", 2), _array(predicted, "predicted", 2)
    left = np.asarray(left, dtype=bool)
    currents, modulus = _array(currents, "currents", 1), _array(modulus, "modulus", 1)
    slopes = _array(slopes, "slopes", 1)
    shape = (logs.size, currents.size)
    if not measured.shape == predicted.shape == left.shape == shape:
        raise ValueError(f"measured, predicted and left must have shape {shape}, got "
                         f"{measured.shape}, {predicted.shape} and {left.shape}")
    if modulus.shape != currents.shape or slopes.shape != currents.shape:
        raise ValueError(f"modulus and slopes need one value per current ({currents.size})")
    norm = Normalize(currents.min(), currents.max())
    fitted = np.isfinite(slopes)
    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=paper_figsize("fhn_departure"),
                                     layout="constrained")
    for k in np.flatnonzero(fitted):
        colour = plt.cm.viridis(norm(currents[k]))
        ax_a.plot(logs[left[:, k]], measured[left[:, k], k], color=colour, lw=0.8, marker=".",
                  ms=3)
        ax_a.plot(logs, predicted[:, k], color=colour, lw=0.6, ls="--")
    ax_a.set(xlabel=r"$\log(1/\varepsilon)$", ylabel="departure step",
             title="measured (solid), predicted (dashed)")
    predicted_slope = 1 / np.log(modulus[fitted])
    ax_b.scatter(predicted_slope, slopes[fitted], c=currents[fitted], norm=norm, s=14)
    top = 1.1 * np.nanmax([*predicted_slope, *slopes[fitted], 1])
    ax_b.plot([0, top], [0, top], color="k", lw=0.8, ls="--", label="prediction")
    ax_b.set(xlabel=r"$1/\log|\lambda_1|$ (steps)", ylabel="measured slope (steps)",
             title="slope against the eigenvalue")
    ax_b.legend(loc="upper left")
    fig.colorbar(plt.cm.ScalarMappable(norm), ax=[ax_a, ax_b], label="current $I$")
    return fig


def plot_fhn_comparison(
    fhn_currents: ArrayLike,
    fhn_voltage: ArrayLike,
    currents: ArrayLike,
    v_tilde: ArrayLike,
    *,
    cycle_currents: ArrayLike,
    cycle_mean: ArrayLike,
    cycle_min: ArrayLike,
    cycle_max: ArrayLike,
) -> Figure:
    """The network's translated fixed points against the FHN fixed point and limit cycle.

    Parameters
    ----------
    fhn_currents, fhn_voltage : array_like, shape (n,)
        The FHN fixed point ``v*`` over a fine grid of currents.
    currents, v_tilde : array_like, shape (K,)
        Current and translated voltage ``ṽ*`` of each network fixed point.
    cycle_currents, cycle_mean, cycle_min, cycle_max : array_like, shape (m,)
        The FHN limit cycle's average, lowest and highest voltage at each current.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fhn_currents, fhn_voltage = (_array(fhn_currents, "fhn_currents", 1),
                                 _array(fhn_voltage, "fhn_voltage", 1))
    currents, v_tilde = _array(currents, "currents", 1), _array(v_tilde, "v_tilde", 1)
    cycle = [_array(value, name, 1) for value, name in (
        (cycle_currents, "cycle_currents"), (cycle_mean, "cycle_mean"),
        (cycle_min, "cycle_min"), (cycle_max, "cycle_max"))]
    if fhn_voltage.shape != fhn_currents.shape or v_tilde.shape != currents.shape:
        raise ValueError("fhn_voltage and v_tilde need one value per current")
    if len({part.shape for part in cycle}) != 1:
        raise ValueError("cycle_currents, cycle_mean, cycle_min and cycle_max must have one "
                         "shape")
    at, mean, low, high = cycle
    fig, ax = plt.subplots(figsize=paper_figsize("fhn_comparison"), layout="constrained")
    ax.plot(fhn_currents, fhn_voltage, color="k", lw=1.4, label=r"FHN fixed point $v^*$")
    ax.plot(at, mean, color="C1", lw=1.4, label=r"FHN cycle average $\langle v\rangle$")
    ax.fill_between(at, low, high, color="C1", alpha=0.1, label="FHN cycle range")
    ax.scatter(currents, v_tilde, color="C0", s=12, zorder=3, label=r"network $\tilde v^*$")
    ax.set(xlabel="current $I$", ylabel="voltage", ylim=(-2.3, 2.3))
    ax.legend(loc="lower right")
    return fig


def plot_fhn_comparison_3d(
    model: FHN,
    fhn_currents: ArrayLike,
    currents: ArrayLike,
    v_tilde: ArrayLike,
    v_mean: ArrayLike,
    *,
    figsize: tuple[float, float] = (4.6, 3.8),
) -> Figure:
    """The FHN fixed-point curve in ``(v, w, I)`` with the network's ``ṽ*`` and the cycle
    average ``<v>``, each placed on the ``w``-nullcline ``w = (v + a) / b``.

    Parameters
    ----------
    model : fhnrnn.fhn.FHN
    fhn_currents : array_like, shape (n,)
        Currents of the FHN curve.
    currents, v_tilde, v_mean : array_like, shape (K,)
        Current, translated voltage ``ṽ*`` and cycle average ``<v>`` at each network fixed
        point.
    figsize : (float, float), default (4.6, 3.8)

    Returns
    -------
    matplotlib.figure.Figure
    """
    fine = _array(fhn_currents, "fhn_currents", 1)
    at, v_tilde = _array(currents, "currents", 1), _array(v_tilde, "v_tilde", 1)
    v_mean = _array(v_mean, "v_mean", 1)
    if v_tilde.shape != at.shape or v_mean.shape != at.shape:
        raise ValueError(f"v_tilde and v_mean need one value per current ({at.size})")
    fig = plt.figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot(projection="3d")
    ax.plot(*model.fixed_point(fine), fine, color="k", lw=1.4, label=r"FHN $(v^*, w^*)$")
    ax.scatter(v_tilde, (v_tilde + model.a) / model.b, at, color="C0", s=12, depthshade=False,
               label=r"network $\tilde v^*$")
    ax.scatter(v_mean, (v_mean + model.a) / model.b, at, color="C1", s=8, marker="^",
               depthshade=False, label=r"cycle average $\langle v\rangle$")
    ax.set(xlabel="$v$", ylabel="$w$", zlabel="current $I$")
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(plt.MaxNLocator(4))
    ax.set_box_aspect(None, zoom=0.9)
    ax.legend(loc="upper left")
    return fig
