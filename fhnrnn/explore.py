"""The notebooks' explorers: one slider, and a figure that a pure drawing function redraws.

Each ``explore_*`` function takes the heavy inputs (a trained model, its fixed points),
computes everything its slider can show once, and returns an :class:`Explorer`; moving the
slider only redraws. Each ``draw_*`` function draws one slider position on a matplotlib
figure and works without widgets (the tests call them on the Agg backend).

- :func:`explore_phase_plane` (notebook 01): the FHN phase plane over the current.
- :func:`explore_sine_wave` (notebook 02): the sine network's output and its fixed point's
  eigenvalues over the frequency.
- :func:`explore_network_current` (notebook 05): the FHN phase plane, the network's output,
  its translated fixed points and its eigenvalues over the current.
- :func:`explore_network_flow` (notebook 06): the network's flow and fixed point against the
  FHN's over the current.

Headless runs (``python -m fhnrnn reproduce``, ``make nbval``) set ``FHNRNN_HEADLESS=1``;
:func:`headless` tells a notebook to skip its explorer there.

:meth:`Explorer.scrubber` is each explorer's static counterpart: the same figure at a few
slider positions as a JavaScript animation with a scrub bar, which needs no kernel and
loads nothing from the internet, so that the course website (``make book``) keeps it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import numbers
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import HTML
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from PIL import Image

from fhnrnn.analysis import fixed_point_labels, rollout_float64, translate
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import FixedPoints
from fhnrnn.models import RNNCell
from fhnrnn.plotting import (
    CLASS_COLORS,
    STAR,
    STYLE_PATH,
    plot_direction_field,
    plot_phase_plane,
)
from fhnrnn.tasks import SineWaveTask

__all__ = [
    "HEADLESS_ENV",
    "Explorer",
    "draw_flow_comparison",
    "draw_network_current",
    "draw_phase_plane",
    "draw_sine_condition",
    "explore_network_current",
    "explore_network_flow",
    "explore_phase_plane",
    "explore_sine_wave",
    "headless",
    "offline_jshtml",
]

HEADLESS_ENV = "FHNRNN_HEADLESS"
"""Set to 1 in every kernel that ``reproduce`` and ``make nbval`` start: no explorer there."""
CSS_CLASS = "fhnrnn-explorer"
"""CSS class of an explorer's widget box in the page (the browser test finds it by it)."""
_PNG_DPI = 90
_V_RANGE, _W_RANGE = (-2.5, 2.5), (-1.0, 3.0)
_EULER_STEP = 0.01
_MEAN_LABEL = r"cycle average $\langle v\rangle$"
# The network's points in pink, as in fhnrnn.plotting.fhn_sweep_animation; the cycle average grey.
_NETWORK, _MEAN = "#CC79A7", "0.45"


def headless() -> bool:
    """Whether this kernel runs headless (``FHNRNN_HEADLESS=1``), where no one moves a slider.

    A notebook's explorer cell reads ``if INTERACTIVE and not headless():``, so that a person
    gets the explorer without editing anything and papermill or nbval runs skip it.
    """
    return os.environ.get(HEADLESS_ENV, "") not in ("", "0")


class Explorer:
    """A slider over precomputed positions and the figure it redraws, shown as a PNG.

    The figure is a plain :class:`~matplotlib.figure.Figure` (not pyplot's), so that the
    notebook's inline backend never shows it on its own; each redraw renders it to the
    ``image`` widget. In a notebook the explorer displays as its slider above its image. The
    widgets are made on first use, so that :meth:`scrubber`, the static counterpart for a page
    without a kernel, leaves no widget state in an executed notebook.

    Parameters
    ----------
    description : str
        Slider label.
    options : sequence of (str, object)
        Label and value of each slider position; ``draw`` receives the value.
    draw : callable
        ``draw(figure, value)`` draws one position on an empty figure.
    figsize : pair of float
        Figure size in inches.
    index : int
        Position of the initial option.
    """

    def __init__(
        self,
        description: str,
        options: Sequence[tuple[str, Any]],
        draw: Callable[[Figure, Any], object],
        *,
        figsize: tuple[float, float],
        index: int = 0,
    ) -> None:
        if not options:
            raise ValueError("options must hold at least one (label, value) pair")
        self.description = description
        self.options = list(options)
        self._draw = draw
        self._figsize = figsize
        self._index = index
        with plt.style.context(STYLE_PATH):
            self.figure = Figure(figsize=figsize, layout="constrained")

    @functools.cached_property
    def widget(self) -> widgets.VBox:
        """The slider above the image (made on first use)."""
        slider = widgets.SelectionSlider(
            options=self.options,
            index=self._index,
            description=self.description,
            continuous_update=False,
            layout=widgets.Layout(width="70%"),
        )
        image = widgets.Image(format="png", width=round(self._figsize[0] * _PNG_DPI))
        image.value = self._render(slider.value)
        slider.observe(lambda change: setattr(image, "value", self._render(change["new"])), "value")
        box = widgets.VBox([slider, image])
        box.add_class(CSS_CLASS)
        return box

    @property
    def slider(self) -> widgets.SelectionSlider:
        """The slider over the options."""
        return self.widget.children[0]

    @property
    def image(self) -> widgets.Image:
        """The PNG of the figure at the slider's position."""
        return self.widget.children[1]

    def _render(self, value: Any) -> bytes:
        self.figure.clear()
        with plt.style.context(STYLE_PATH), plt.rc_context({"savefig.bbox": "standard"}):
            self._draw(self.figure, value)
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", dpi=_PNG_DPI)
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        return self.widget._repr_mimebundle_(**kwargs)

    def scrubber(self, frames: int = 15, *, dpi: float = 60.0) -> HTML:
        """The static counterpart: the figure at ``frames`` positions, with a scrub bar.

        The positions are spread evenly over the options, the first and the last included;
        each frame is titled with the slider's label and value. The result is matplotlib's
        JavaScript animation (:meth:`~matplotlib.animation.Animation.to_jshtml`) with the
        frames embedded as PNG, made to load nothing from the internet: its buttons show
        text symbols instead of a web font. It needs no kernel, so a static page (the course
        website) keeps it working.

        Parameters
        ----------
        frames : int
            Number of positions shown (fewer when there are fewer options).
        dpi : float
            Resolution of the frames; the size of the HTML grows with its square.

        Returns
        -------
        IPython.display.HTML
        """
        if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 1:
            raise ValueError(f"frames must be a positive integer, got {frames!r}")
        if not dpi > 0:
            raise ValueError(f"dpi must be positive, got {dpi!r}")
        shown = np.unique(np.linspace(0, len(self.options) - 1, frames).round().astype(int))
        with (
            plt.style.context(STYLE_PATH),
            plt.rc_context(
                {"savefig.bbox": "standard", "savefig.dpi": dpi, "animation.frame_format": "png"}
            ),
        ):
            fig = Figure(figsize=self._figsize, dpi=dpi, layout="constrained")

            def draw_frame(position: int) -> None:
                fig.clear()
                label, value = self.options[position]
                self._draw(fig, value)
                fig.suptitle(f"{self.description} = {label}")

            animation = FuncAnimation(fig, draw_frame, frames=shown.tolist())
            html = animation.to_jshtml(fps=2, default_mode="once")
        return HTML(offline_jshtml(_palette_frames(html)))


_FRAME = re.compile(r'(frames\[\d+\] = "data:image/)png;base64,(.*?)"', re.DOTALL)
_PALETTE_COLOURS = 128


def _palette_png(encoded: str) -> str:
    """A base64 PNG (with JavaScript line continuations) as a 128-colour PNG, in base64.

    A plot has few colours besides the antialiasing: the palette keeps every pixel within a
    few levels of the original and makes the frame four to five times smaller.
    """
    with Image.open(io.BytesIO(base64.b64decode(encoded.replace("\\\n", "")))) as frame:
        white = Image.new("RGBA", frame.size, "white")
        flat = Image.alpha_composite(white, frame.convert("RGBA")).convert("RGB")
    palette = flat.quantize(_PALETTE_COLOURS, method=Image.Quantize.MAXCOVERAGE, dither=0)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _palette_frames(html: str) -> str:
    """Every embedded PNG frame of a ``to_jshtml`` output as a palette PNG."""
    return _FRAME.sub(lambda m: f'{m[1]}png;base64,{_palette_png(m[2])}"', html)


# The button icons of matplotlib's JavaScript animation (Font Awesome 4 names) as text.
_BUTTON_TEXT = {
    "minus": "−",
    "fast-backward": "|◀◀",
    "step-backward": "|◀",
    "play fa-flip-horizontal": "◀",
    "pause": "❚❚",
    "play": "▶",
    "step-forward": "▶|",
    "fast-forward": "▶▶|",
    "plus": "+",
}
_ICON = re.compile(r'<i class="fa fa-([a-z -]+?)"></i>')
_REMOTE_STYLESHEET = re.compile(r'<link rel="stylesheet"\s+href="https?://[^"]*">')
_ANIMATION_ID = re.compile(r'id="_anim_img([0-9a-f]{32})"')


def offline_jshtml(html: str) -> str:
    """Matplotlib's JavaScript animation made to load nothing and to be the same every run.

    :meth:`~matplotlib.animation.Animation.to_jshtml` links Font Awesome's stylesheet on a
    CDN for its button icons and names its elements with a random UUID. This drops the link,
    writes each icon as text, and replaces the UUID by a hash of the content.

    Parameters
    ----------
    html : str
        The output of ``to_jshtml``.

    Returns
    -------
    str
    """
    found = _ANIMATION_ID.search(html)
    if found is None:
        raise ValueError("html must be the output of matplotlib's Animation.to_jshtml")
    html = _REMOTE_STYLESHEET.sub("", html)
    html = _ICON.sub(lambda icon: _BUTTON_TEXT.get(icon[1], icon[1]), html)
    digest = hashlib.sha256(html.replace(found[1], "").encode()).hexdigest()[:32]
    return html.replace(found[1], digest)


def _nearest_option(values: np.ndarray, wanted: float) -> int:
    return int(np.argmin(np.abs(values - wanted)))


def _current_options(currents: np.ndarray) -> list[tuple[str, int]]:
    return [(f"{value:.3g}", index) for index, value in enumerate(currents)]


def _currents(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size < 1 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a non-empty 1-D array of finite values, got {values!r}")
    return array


# ---------------------------------------------------------------- 01: the FHN phase plane


def draw_phase_plane(fig: Figure, model: FHN, I: float, trajectory: np.ndarray) -> Axes:
    """The FHN phase plane at current ``I`` with a trajectory, on one axes of ``fig``.

    Parameters
    ----------
    fig : Figure
    model : FHN
    I : float
    trajectory : ndarray, shape (T, 2)
        States ``(v, w)``.

    Returns
    -------
    Axes
    """
    ax = fig.subplots()
    plot_phase_plane(ax, model, I, trajectory=trajectory, v_range=_V_RANGE, w_range=_W_RANGE)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def explore_phase_plane(
    model: FHN, currents: ArrayLike | None = None, *, value: float = 1.0, t_max: float = 200.0
) -> Explorer:
    """Slider over the current: nullclines, fixed point and a trajectory from ``(0, 0)``.

    Parameters
    ----------
    model : FHN
    currents : array_like, shape (K,), optional
        Slider positions; 0 to 1.75 in steps of 0.025 by default.
    value : float
        Initial current (the nearest slider position).
    t_max : float
        Length of each trajectory (forward Euler with step 0.01, far finer than the
        study's 0.3, so the picture is that of the ODE).

    Returns
    -------
    Explorer
    """
    grid = _currents(np.linspace(0.0, 1.75, 71) if currents is None else currents, "currents")
    _, states = model.simulate(grid, t_max=t_max, dt=_EULER_STEP)
    return Explorer(
        "I",
        _current_options(grid),
        lambda fig, k: draw_phase_plane(fig, model, grid[k], states[k]),
        figsize=(6.4, 4.8),
        index=_nearest_option(grid, value),
    )


# ------------------------------------------------------ 02: the sine-wave network over ω


def _unit_circle(
    ax: Axes, xlim: tuple[float, float] = (-1.15, 1.15), ylim: tuple[float, float] = (-1.15, 1.15)
) -> None:
    angle = np.linspace(0.0, 2 * np.pi, 1441)
    ax.plot(np.cos(angle), np.sin(angle), color="0.5", lw=0.9, label="unit circle")
    ax.axhline(0.0, color="0.8", lw=0.6)
    ax.axvline(0.0, color="0.8", lw=0.6)
    ax.set(xlim=xlim, ylim=ylim, xlabel=r"Re $\lambda$", ylabel=r"Im $\lambda$")
    ax.set_aspect("equal")


def _window_near_one(values: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """A square window near ``lambda = 1`` that holds every value (complex, shape (n,))."""
    low = min(0.8, float(values.real.min()) - 0.05)
    high = max(1.3, float(values.real.max()) + 0.05)
    height = max((high - low) / 2, float(np.abs(values.imag).max()) + 0.05)
    middle = (low + high) / 2
    return (middle - height, middle + height), (-height, height)


def _leading_complex(eigenvalues: np.ndarray) -> np.ndarray:
    """First eigenvalue with non-zero imaginary part in each row (sorted by modulus)."""
    first = np.argmax(np.abs(eigenvalues.imag) > 0, axis=1)
    return eigenvalues[np.arange(len(first)), first]


def draw_sine_condition(
    fig: Figure,
    times: np.ndarray,
    target: np.ndarray,
    output: np.ndarray,
    eigenvalues: np.ndarray,
    omega: float,
    dt: float,
) -> list[Axes]:
    """One condition of the sine task: output against target, and the fixed point's spectrum.

    The right panel draws the eigenvalues of every fixed point found at the condition's
    input, the leading complex pair in red, and the rays at angle ``±omega * dt``: the
    rotation per step that would produce the target frequency.

    Parameters
    ----------
    fig : Figure
    times, target, output : ndarray, shape (T,)
    eigenvalues : ndarray of complex, shape (n, d)
        Eigenvalues of the ``n`` fixed points at this input (``n`` may be 0).
    omega : float
        Target angular frequency.
    dt : float
        Time step of one network update.

    Returns
    -------
    list of Axes
        The time-series and the eigenvalue axes.
    """
    ax_time, ax_eig = fig.subplots(1, 2, width_ratios=[1.8, 1])
    ax_time.plot(times, target, color="0.6", lw=3.0, label=r"target $\sin(\omega t)$")
    ax_time.plot(times, output, color="C0", lw=1.1, label="network")
    ax_time.set(xlabel="time", ylabel="z", ylim=(-1.35, 1.35), title=rf"$\omega = {omega:.3f}$")
    ax_time.legend(loc="upper right", ncol=2, fontsize=8)
    _unit_circle(ax_eig)
    reach = 1.15 * np.array([np.cos(omega * dt), np.sin(omega * dt)])
    for sign in (1, -1):
        ax_eig.plot(
            [0, reach[0]],
            [0, sign * reach[1]],
            ls="--",
            color="C2",
            lw=0.9,
            label=r"angle $\pm\omega\,\Delta t$" if sign == 1 else None,
        )
    if len(eigenvalues):
        values = np.asarray(eigenvalues).ravel()
        ax_eig.plot(values.real, values.imag, ".", color="0.35", ms=3, label="eigenvalues")
        lead = _leading_complex(np.asarray(eigenvalues))
        ax_eig.plot(lead.real, lead.imag, "o", color="C1", ms=5, label="leading pair")
        ax_eig.plot(lead.real, -lead.imag, "o", color="C1", ms=5)
        rate = np.abs(np.angle(lead[0])) / dt
        modulus = rf"$|\lambda| = {abs(lead[0]):.3f}$"
        ax_eig.set_title(rf"{modulus}, $|\arg\lambda|/\Delta t = {rate:.3f}$")
    else:
        ax_eig.set_title("no fixed point found")
    ax_eig.legend(loc="lower left", fontsize=7)
    return [ax_time, ax_eig]


def explore_sine_wave(task: SineWaveTask, outputs: ArrayLike, points: FixedPoints) -> Explorer:
    """Slider over the conditions of the sine task, labelled by their frequency.

    Parameters
    ----------
    task : SineWaveTask
    outputs : array_like, shape (B, T) or (B, T, 1)
        The network's output for each condition.
    points : FixedPoints
        Fixed points searched at the task's input levels.

    Returns
    -------
    Explorer
    """
    values = np.asarray(outputs, dtype=np.float64)
    values = values[..., 0] if values.ndim == 3 else values
    targets = task.targets[..., 0].double().numpy()
    if values.shape != targets.shape:
        raise ValueError(
            f"outputs must have shape {targets.shape} (or with a trailing 1), "
            f"got {np.shape(outputs)}"
        )
    spectra = [points.eigenvalues[np.isclose(points.u[:, 0], level)] for level in task.levels]
    options = [(f"{omega:.3f}", index) for index, omega in enumerate(task.omegas)]
    return Explorer(
        "ω",
        options,
        lambda fig, j: draw_sine_condition(
            fig, task.times, targets[j], values[j], spectra[j], task.omegas[j], task.dt
        ),
        figsize=(10.0, 3.8),
        index=len(options) // 2,
    )


# ------------------------------------------- 05: the FHN network over the current


def draw_network_current(
    fig: Figure,
    fhn: FHN,
    I: float,
    times: np.ndarray,
    fhn_states: np.ndarray,
    network_v: np.ndarray,
    v_tilde: np.ndarray,
    v_mean: float,
    eigenvalues: np.ndarray,
    dt: float,
) -> list[Axes]:
    """The FHN network at one current, three panels side by side.

    Left, the FHN phase plane with ``v*``, the network's translated fixed points ``ṽ*`` and
    the cycle average ``⟨v⟩`` (each with ``w`` from the ``w``-nullcline); middle, the FHN
    voltage and the network's output over time with the three levels; right, the leading
    eigenvalues of the network's fixed points and those of the FHN's Euler map,
    ``1 + dt * mu``, against the unit circle.

    Parameters
    ----------
    fig : Figure
    fhn : FHN
    I : float
    times : ndarray, shape (T,)
    fhn_states : ndarray, shape (T, 2)
        The FHN trajectory the network was trained on at ``I``.
    network_v : ndarray, shape (T,)
        The network's output at ``I``.
    v_tilde : ndarray, shape (n,)
        Translated fixed points of the network at ``I`` (``n`` may be 0).
    v_mean : float
        Time average of ``v`` over the FHN limit cycle (NaN when the neuron rests).
    eigenvalues : ndarray of complex, shape (n, k)
        The ``k`` leading eigenvalues of each of those fixed points.
    dt : float
        Time step of one network update.

    Returns
    -------
    list of Axes
    """
    ax_plane, ax_time, ax_eig = fig.subplots(1, 3, width_ratios=[1.2, 1.5, 1])
    plot_phase_plane(ax_plane, fhn, I, trajectory=fhn_states, v_range=_V_RANGE, w_range=_W_RANGE)
    levels = np.asarray(v_tilde, dtype=np.float64)
    _mark_on_w_nullcline(ax_plane, fhn, levels, "X", _NETWORK, r"network $\tilde v^*$")
    _mark_on_w_nullcline(ax_plane, fhn, np.array([v_mean]), "^", _MEAN, _MEAN_LABEL)
    ax_plane.legend(loc="lower right", fontsize=6)
    _draw_voltage_levels(ax_time, times, fhn_states[:, 0], network_v)
    ax_time.axhline(fhn.fixed_point(I)[0], color="black", ls=":", lw=1.2, label="$v^*$")
    for index, level in enumerate(levels):
        label = r"$\tilde v^*$" if index == 0 else None
        ax_time.axhline(level, color=_NETWORK, ls="--", lw=1.4, label=label)
    ax_time.axhline(v_mean, color=_MEAN, ls="-.", lw=1.2, label=r"$\langle v\rangle$")
    ax_time.legend(loc="upper right", ncol=3, fontsize=7)
    _draw_network_spectrum(ax_eig, np.asarray(eigenvalues).ravel(), 1 + dt * fhn.eigenvalues(I))
    return [ax_plane, ax_time, ax_eig]


def _mark_on_w_nullcline(
    ax: Axes, fhn: FHN, v: np.ndarray, marker: str, color: str, label: str
) -> None:
    """Points ``(v, (v + a) / b)``: voltages placed on the ``w``-nullcline, as the study did."""
    w = (v + fhn.a) / fhn.b
    ax.plot(v, w, marker, ls="none", color=color, mec="black", ms=8, zorder=6, label=label)


def _draw_voltage_levels(
    ax: Axes, times: np.ndarray, fhn_v: np.ndarray, network_v: np.ndarray
) -> None:
    ax.plot(times, fhn_v, color="0.6", lw=2.6, label="FHN $v(t)$")
    ax.plot(times, network_v, color="C0", lw=1.0, label="network")
    ax.set(xlabel="time $t$", ylabel="voltage $v$", ylim=(-2.4, 2.6))


def _draw_network_spectrum(ax: Axes, values: np.ndarray, euler: np.ndarray) -> None:
    """Network eigenvalues ``values`` (n,) and the FHN Euler map's ``euler`` (2,)."""
    _unit_circle(ax, *_window_near_one(np.concatenate([values, euler])))
    ax.plot(
        euler.real,
        euler.imag,
        "+",
        color="black",
        ms=10,
        mew=1.5,
        label=r"FHN, $1 + \Delta t\,\mu$",
    )
    ax.plot(values.real, values.imag, "o", color=_NETWORK, ms=4, label="network, leading")
    title = rf"largest $|\lambda| = {np.abs(values).max():.3f}$" if values.size else None
    ax.set_title(title or "no fixed point found")
    ax.legend(loc="lower left", fontsize=7)


def explore_network_current(
    fhn: FHN,
    model: RNNCell,
    points: FixedPoints,
    mean_voltage: ArrayLike,
    *,
    dt: float = 0.3,
    t_max: float = 100.0,
    n_eigenvalues: int = 6,
) -> Explorer:
    """Slider over the currents of ``points``: the FHN network opened up at each one.

    Parameters
    ----------
    fhn : FHN
    model : RNNCell
        The trained network (raw current in, raw voltage out).
    points : FixedPoints
        Its fixed points; ``u[:, 0]`` is the current of each.
    mean_voltage : array_like, shape (K,)
        ``⟨v⟩`` of the FHN limit cycle at each distinct current of ``points``, in
        increasing order of the current.
    dt, t_max : float
        The training data's Euler step and length (the study's 0.3 and 100).
    n_eigenvalues : int
        Leading eigenvalues drawn per fixed point.

    Returns
    -------
    Explorer
    """
    currents = np.unique(points.u[:, 0])
    means = np.asarray(mean_voltage, dtype=np.float64)
    if means.shape != currents.shape:
        raise ValueError(
            f"mean_voltage must hold one value per current ({currents.size}), "
            f"got shape {means.shape}"
        )
    times, fhn_states = fhn.simulate(currents, t_max=t_max, dt=dt)
    _, outputs = rollout_float64(model, currents, times.size)
    v_tilde = translate(model, points.xstar)[:, 0]
    members = [np.flatnonzero(points.u[:, 0] == value) for value in currents]

    def draw(fig: Figure, k: int) -> list[Axes]:
        at = members[k]
        return draw_network_current(
            fig,
            fhn,
            currents[k],
            times,
            fhn_states[k],
            outputs[k, :, 0],
            v_tilde[at],
            means[k],
            points.eigenvalues[at, :n_eigenvalues],
            dt,
        )

    return Explorer(
        "I",
        _current_options(currents),
        draw,
        figsize=(13.5, 4.2),
        index=_nearest_option(currents, 1.0),
    )


# -------------------------------------- 06: the network's flow against the FHN's


def draw_flow_comparison(
    fig: Figure,
    fhn: FHN,
    I: float,
    positions: np.ndarray,
    velocity: np.ndarray,
    fixed_point: np.ndarray,
    label: str,
) -> list[Axes]:
    """The FHN phase plane and the network's flow at current ``I``, side by side.

    Parameters
    ----------
    fig : Figure
    fhn : FHN
    I : float
    positions : ndarray, shape (N, 2)
        Points ``(v, w)`` (the network's read-out of encoded grid points).
    velocity : ndarray, shape (N, 2)
        The network's ``(Δv, Δw) / Δt`` over one step from each position.
    fixed_point : ndarray, shape (2,)
        The network's fixed point, read out as ``(ṽ*, w̃*)``.
    label : str
        Its type (a key of :data:`fhnrnn.plotting.CLASS_COLORS`).

    Returns
    -------
    list of Axes
    """
    ax_fhn, ax_net = fig.subplots(1, 2, sharex=True, sharey=True)
    plot_phase_plane(ax_fhn, fhn, I, v_range=_V_RANGE, w_range=_W_RANGE)
    ax_fhn.set_title(f"FHN: {fhn.classify(I)}")
    plot_direction_field(ax_net, positions, velocity)
    v = np.linspace(*_V_RANGE, 400)
    for w, color in zip(fhn.nullclines(v, I), ("#0072B2", "#009E73"), strict=True):
        ax_net.plot(v, w, color=color, lw=0.9, alpha=0.5)
    ax_net.plot(
        *fhn.fixed_point(I), "o", mfc="none", mec="black", ms=10, mew=1.2, label="FHN fixed point"
    )
    ax_net.plot(*fixed_point, color=CLASS_COLORS[label], label="network fixed point", **STAR)
    ax_net.set(xlim=_V_RANGE, ylim=_W_RANGE, xlabel="voltage $v$", title=f"network: {label}")
    ax_net.legend(loc="lower right", fontsize=8)
    ax_net.grid(False)
    return [ax_fhn, ax_net]


def _encode(model: RNNCell, observed: np.ndarray) -> np.ndarray:
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        return model.encode(torch.as_tensor(observed, dtype=dtype)).double().numpy()


def _network_flow(
    model: RNNCell, currents: np.ndarray, grid: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray]:
    """The network's flow in the observed ``(v, w)`` plane at each current.

    Each grid point is encoded to a hidden state ``x``; the flow at ``readout(x)`` is
    ``(readout(step(x, I)) - readout(x)) / dt``.

    Parameters
    ----------
    model : RNNCell
        A cell with an ``encode`` method and a two-dimensional read-out.
    currents : ndarray, shape (K,)
    grid : ndarray, shape (N, 2)
        Observed points ``(v, w)``.
    dt : float
        Time step of one network update.

    Returns
    -------
    positions : ndarray, shape (N, 2)
    velocity : ndarray, shape (K, N, 2)
    """
    states = _encode(model, grid)
    positions = translate(model, states)
    tiled = np.tile(states, (len(currents), 1))
    _, after = rollout_float64(model, np.repeat(currents, len(grid)), 1, tiled)
    velocity = (after[:, 0].reshape(len(currents), len(grid), -1) - positions) / dt
    return positions, velocity


def explore_network_flow(
    fhn: FHN, model: RNNCell, points: FixedPoints, *, dt: float, value: float = 1.0
) -> Explorer:
    """Slider over the currents of ``points``: the network's flow and fixed point vs the FHN's.

    Parameters
    ----------
    fhn : FHN
    model : RNNCell
        A trained cell with an ``encode`` method whose read-out is ``(v, w)``
        (e.g. :class:`fhnrnn.models.ResidualMLPCell`).
    points : FixedPoints
        One fixed point per current (e.g. :func:`fhnrnn.analysis.fixed_point_branch`).
    dt : float
        Time step of one network update.
    value : float
        Initial current (the nearest slider position).

    Returns
    -------
    Explorer
    """
    if not callable(getattr(model, "encode", None)) or model.output_size != 2:
        raise ValueError("model must have an encode method and a (v, w) read-out")
    currents = points.u[:, 0]
    if np.unique(currents).size != currents.size:
        raise ValueError("points must hold one fixed point per current")
    v, w = np.meshgrid(np.linspace(*_V_RANGE, 21), np.linspace(*_W_RANGE, 17))
    positions, velocity = _network_flow(
        model, currents, np.column_stack([v.ravel(), w.ravel()]), dt
    )
    read_out = translate(model, points.xstar)
    labels = fixed_point_labels(points.eigenvalues)
    return Explorer(
        "I",
        _current_options(currents),
        lambda fig, k: draw_flow_comparison(
            fig, fhn, currents[k], positions, velocity[k], read_out[k], str(labels[k])
        ),
        figsize=(11.0, 4.6),
        index=_nearest_option(currents, value),
    )
