"""Every figure of the paper is drawn at its printed size, with text of at least 7 pt in print.

Two checks. The figure functions of the package are drawn from small synthetic inputs and every
visible text artist is measured: its font size times printed width over drawn width. And the
committed ``figures/*.pdf`` that ``paper/main.tex`` includes are read back: the page width of
each (the drawn width, after ``savefig.bbox: tight``) against the width LaTeX prints it at, and
the font size of every text run in it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text

from fhnrnn import plotting
from fhnrnn.ensemble import ANALYSIS_CURRENTS, ARMS
from fhnrnn.ensemble import figures as ensemble_figures
from fhnrnn.fhn import FHN

ROOT = Path(__file__).resolve().parents[1]
MAIN_TEX = ROOT / "paper" / "main.tex"
MIN_POINTS = 7.0
_INCLUDE = re.compile(r"\\includegraphics(?:\[([^\]]*)\])?\{([^}]+)\}")
_WIDTH = re.compile(r"width\s*=\s*([0-9.]*)\s*\\(linewidth|textwidth)")


def _tex() -> str:
    return re.sub(r"(?<!\\)%.*", "", MAIN_TEX.read_text())


def paper_figures() -> dict[str, str]:
    """File stem -> the options of its ``\\includegraphics`` in ``paper/main.tex``."""
    return {Path(name).stem: options or "" for options, name in _INCLUDE.findall(_tex())}


def text_width_inches() -> float:
    """``\\textwidth`` of ``paper/main.tex``: A4 (210 mm) less its two ``geometry`` margins."""
    margin = re.search(r"\\usepackage\[a4paper,\s*margin=([0-9.]+)cm\]\{geometry\}", _tex())
    assert margin, "paper/main.tex no longer sets its margins as 'a4paper,margin=X cm'"
    return (21.0 - 2 * float(margin.group(1))) / 2.54


def printed_width(options: str, drawn: float) -> float:
    """Width in inches at which LaTeX prints a figure drawn ``drawn`` inches wide."""
    width = _WIDTH.search(options)
    if width is None:
        return drawn
    return float(width.group(1) or 1.0) * text_width_inches()


def pdf_text_sizes(path: Path) -> tuple[float, list[float]]:
    """Page width (inches) of a matplotlib PDF and the font size of each text run in it.

    A run is one ``BT ... ET`` block: one string, or one mathtext expression, whose size is
    that of its largest glyphs (sub- and superscripts are drawn smaller, as in print).
    """
    data = path.read_bytes()
    box = re.search(rb"/MediaBox\s*\[\s*([-0-9.]+)\s+([-0-9.]+)\s+([-0-9.]+)", data)
    width = (float(box.group(3)) - float(box.group(1))) / 72.0
    sizes = []
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream.group(1))
        except zlib.error:
            continue
        for block in re.findall(rb"\bBT\b(.*?)\bET\b", content, re.S):
            found = [float(size) for size in re.findall(rb"([0-9.]+) Tf", block)]
            if found:
                sizes.append(max(found))
    return width, sizes


def visible_text_sizes(fig: Figure) -> list[tuple[str, float]]:
    """(text, font size in points) of every visible, non-empty text artist of ``fig``."""
    fig.canvas.draw()
    return [
        (artist.get_text(), artist.get_fontsize())
        for artist in fig.findobj(Text)
        if artist.get_visible() and artist.get_text().strip()
    ]


def test_the_text_width_constant_is_the_papers() -> None:
    assert plotting.TEXT_WIDTH == pytest.approx(text_width_inches(), abs=0.01)


@pytest.mark.parametrize("name", sorted(paper_figures()))
def test_the_paper_includes_the_figure_at_its_natural_width(name: str) -> None:
    options = paper_figures()[name]
    assert "width" not in options, f"{name} is scaled by LaTeX ({options}): draw it at size"


@pytest.mark.parametrize("name", sorted(paper_figures()))
def test_committed_figure_text_is_at_least_7pt_in_print(name: str) -> None:
    drawn, sizes = pdf_text_sizes(ROOT / "figures" / f"{name}.pdf")
    printed = printed_width(paper_figures()[name], drawn)
    assert sizes, f"{name}.pdf has no text"
    smallest = min(sizes) * printed / drawn
    assert smallest >= MIN_POINTS - 0.01, f"{name}: smallest text {smallest:.1f} pt in print"
    assert printed <= text_width_inches() + 0.01, f"{name}: {printed:.2f} in, wider than the text"


# ------------------------------------------------ the package's figure functions, synthetic data


def _ensemble_table(folder: Path) -> pd.DataFrame:
    """A ``runs.csv`` with two runs per group of notebook 07, and their per-run arrays."""
    rng = np.random.default_rng(0)
    rows = []
    currents = ANALYSIS_CURRENTS
    for index, (cell, init, data) in enumerate(ARMS * 2):
        run_id = f"run{index}"
        period = rng.uniform(20.0, 40.0, currents.size)
        period[rng.uniform(size=currents.size) < 0.1] = np.inf  # rests at a few currents
        np.savez(folder / f"{run_id}.npz", fp_u=currents, fp_vtilde=rng.normal(0, 1, currents.size),
                 fp_central=np.ones(currents.size, bool), net_period=period, currents=currents)
        rows.append({"run_id": run_id, "cell": cell, "init": init, "data": data, "seed": index,
                     "skill_vstar": -rng.uniform(0.0, 50.0),
                     "skill_cycle_mean": rng.uniform(-9, 0.9),
                     "coef_vstar": rng.normal(0, 1), "coef_cycle_mean": rng.normal(1, 1),
                     "inside_fraction": rng.uniform(0, 1),
                     "in_plane_offset_median": rng.uniform(0.02, 1.5),
                     "freq_ratio_median": rng.uniform(0.2, 3.5),
                     "osc_period_error": rng.uniform(0.001, 0.3),
                     "osc_exponent_error": rng.uniform(0.5, 2.0),
                     "osc_prc_distance": rng.uniform(0.0, 0.05)})
    return pd.DataFrame(rows)


_RNG = np.random.default_rng(0)
_TIMES = np.linspace(0, 50, 120)
_STATES = np.column_stack([np.sin(_TIMES), np.cos(_TIMES)])


def _phase_plane(folder: Path) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=plotting.paper_figsize("fhn_phase_plane"))
    for ax, current in zip(axes, (0.2, 0.9), strict=True):
        plotting.plot_phase_plane(ax, FHN(), current, trajectory=_STATES)
    return fig


def _bifurcation(folder: Path) -> Figure:
    model = FHN()
    currents = np.array([0.2, 0.8, 1.0, 1.6])
    cycles = [None, model.limit_cycle(0.8), model.limit_cycle(1.0), None]
    return plotting.plot_bifurcation(model, currents, cycles, oscillation_range=(0.3, 1.4))


def _rnn_fit(folder: Path) -> Figure:
    currents = np.linspace(0.4, 1.4, 5)
    traces = np.sin(_TIMES[None, :] + currents[:, None])
    return plotting.plot_rnn_fit(np.geomspace(1, 1e-2, 40), _TIMES, currents, traces, traces)


def _rnn_pca(folder: Path) -> Figure:
    return plotting.plot_rnn_pca(_RNG.normal(size=(5, 30, 3)), np.linspace(0.4, 1.4, 5),
                                 _RNG.normal(size=(7, 3)), np.linspace(0.4, 1.4, 7),
                                 explained=[0.5, 0.3, 0.1])


def _eigenvalues(folder: Path) -> Figure:
    grid = np.linspace(0.0, 1.75, 12)
    mu = _RNG.normal(size=(12, 2)) + 1j * _RNG.normal(size=(12, 2))
    network = np.r_[_RNG.normal(size=11), 7.0] + 1j * _RNG.normal(size=12)
    return plotting.plot_eigenvalue_comparison(grid, mu, grid, network, grid[3:9],
                                               np.full(6, 0.4))


def _translation(folder: Path) -> Figure:
    traces = np.sin(_TIMES[None, :] + np.arange(3)[:, None])
    return plotting.plot_translation(_TIMES, traces, 2 * traces, np.array([0.6, 0.9, 1.2]),
                                     np.array([0.1, 0.4, 0.5]), np.array([120, 40, 90]), 0.05)


def _departure(folder: Path) -> Figure:
    logs = np.log(1 / np.logspace(-6, -3, 4))
    modulus = np.linspace(1.01, 1.04, 8)
    predicted = logs[:, None] / np.log(modulus)[None]
    slopes = np.r_[1 / np.log(modulus[:-1]), np.nan]
    left = np.ones((4, 8), bool)
    left[:, -1] = False
    return plotting.plot_departure(logs, predicted + 5, predicted, left,
                                   np.linspace(0.4, 1.4, 8), modulus, slopes)


def _comparison(folder: Path) -> Figure:
    fine = np.linspace(0.4, 1.4, 50)
    at = np.linspace(0.4, 1.4, 11)
    return plotting.plot_fhn_comparison(fine, FHN().fixed_point(fine)[0], at, at - 0.9,
                                        cycle_currents=at, cycle_mean=at - 1.0,
                                        cycle_min=at - 3.0, cycle_max=at + 1.0)


def _piecewise_curve(folder: Path) -> Figure:
    u = np.array([0.0, 0.5, 0.7, 0.6, 1.75])
    components = [(u, u - 1.0, np.array([2, 4, 3, 2])), (u[:3], u[:3] - 1.5, np.array([3, 2]))]
    events = [("fold", 0.7, -0.3), ("border collision", 0.5, -0.5)]
    wide = np.linspace(0.0, 1.75, 30)
    unstable = np.where((wide > 0.33) & (wide < 1.42), 2, 0)
    return plotting.plot_piecewise_curve(components, events, wide, wide - 1.2, unstable,
                                         (0.33, 1.42))


def _sine_figures() -> dict[str, Callable[[Path], Figure]]:
    times = np.linspace(0, 10, 50)
    targets = np.sin(np.outer([1, 2, 3, 4], times))
    omega = np.linspace(0.1, 0.6, 8)
    labels = [rf"$u$ = 0.{k}00, $\omega$ = 0.{k}0, normalised MSE = 1.0e-04" for k in range(4)]
    return {
        "sine_outputs": lambda _: plotting.plot_sine_outputs(times, targets, targets, labels),
        "sine_eigenfrequency": lambda _: plotting.plot_eigenfrequencies(
            {"tanh": (omega, omega * 1.01, np.ones(8)), "GRU": (omega, omega, np.ones(8))}
        ),
        "sine_pca": lambda _: plotting.plot_pca_trajectories(
            _RNG.normal(size=(4, 20, 3)), _RNG.normal(size=(5, 3)), np.arange(4.0),
            np.arange(5.0), value_label="input", explained=[0.5, 0.3, 0.1],
        ),
    }


def _ensemble(draw: Callable[[pd.DataFrame, Path], Figure]) -> Callable[[Path], Figure]:
    def build(folder: Path) -> Figure:
        runs = folder / "runs"
        runs.mkdir()
        return draw(_ensemble_table(runs), runs)

    return build


def _ensemble_figures() -> dict[str, Callable[[Path], Figure]]:
    baselines = {"osc_period_error": 0.08, "osc_exponent_error": 1.6, "osc_prc_distance": 0.03}
    return {
        "ensemble_training": _ensemble(ensemble_figures.plot_period_errors),
        "ensemble_vstar": _ensemble(ensemble_figures.plot_vstar_curves),
        "ensemble_errors": _ensemble(lambda table, _: ensemble_figures.plot_skill(table)),
        "ensemble_regression": _ensemble(lambda table, _: ensemble_figures.plot_regression(table)),
        "ensemble_geometry": _ensemble(lambda table, _: ensemble_figures.plot_geometry(table)),
        "ensemble_oscillator": _ensemble(
            lambda table, _: ensemble_figures.plot_oscillator(table, baselines)),
        "ensemble_identifiability": lambda _: ensemble_figures.plot_comparisons(_comparisons()),
    }


def _comparisons() -> pd.DataFrame:
    """Twelve tests, as :func:`fhnrnn.ensemble.arm_comparisons` returns them."""
    rng = np.random.default_rng(1)
    tests = [(a, b, cell, column) for a, b, columns in (
        ("gap", "transient", ("rmse_vstar_band", "rmse_vstar_off_band")),
        ("transient", "study", ("rmse_vstar_rest", "rmse_vstar")))
        for cell in ("paper", "gru", "lstm") for column in columns]
    low = rng.uniform(-1.2, 0.2, len(tests))
    return pd.DataFrame({"a": [t[0] for t in tests], "b": [t[1] for t in tests],
                         "cell": [t[2] for t in tests], "column": [t[3] for t in tests],
                         "n_a": 10, "n_b": 10, "median_difference": low + 0.3,
                         "ci_low": low, "ci_high": low + 0.6,
                         "p_holm": rng.uniform(0, 1, len(tests))})


FIGURES: dict[str, Callable[[Path], Figure]] = {
    "fhn_timeseries": lambda _: plotting.plot_fhn_timeseries(
        _TIMES, {r"forward Euler, $\Delta t = 0.3$": _STATES, "accurate (RK45)": _STATES}
    ),
    "fhn_phase_plane": _phase_plane,
    "fhn_fixed_points": lambda _: plotting.plot_fixed_points(FHN(), np.linspace(0, 1.75, 50)),
    "fhn_bifurcation": _bifurcation,
    **_sine_figures(),
    "fhn_rnn_fit": _rnn_fit,
    "fhn_rnn_pca": _rnn_pca,
    "fhn_translation": _translation,
    "fhn_departure": _departure,
    "fhn_comparison": _comparison,
    "fhn_eigenvalues": _eigenvalues,
    "rnn_branch": _piecewise_curve,
    **_ensemble_figures(),
}


@pytest.fixture
def cheap_fhn_curves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The FHN reference curves of the ṽ* figure without its hundred limit cycles."""
    def curves(currents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inside = currents[(currents > 0.34) & (currents < 1.4)]
        return FHN().fixed_point(currents)[0], inside, np.zeros_like(inside)

    monkeypatch.setattr(ensemble_figures, "_fhn_curves", curves)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_function_draws_7pt_text_within_the_text_width(
    name: str, tmp_path: Path, cheap_fhn_curves: None
) -> None:
    plotting.use_style()
    assert_printable(FIGURES[name](tmp_path), tmp_path / f"{name}.pdf")


def test_the_notebooks_3d_comparison_draws_7pt_text_within_the_text_width(
    tmp_path: Path,
) -> None:
    """``fhn_comparison_3d`` is notebook 05's, not the paper's: it is held to the same size."""
    plotting.use_style()
    at = np.linspace(0.4, 1.4, 11)
    fig = plotting.plot_fhn_comparison_3d(FHN(), np.linspace(0.4, 1.4, 50), at, at - 0.9, at - 1)
    assert_printable(fig, tmp_path / "fhn_comparison_3d.pdf")


def assert_printable(fig: Figure, pdf: Path) -> None:
    """``fig`` is at most the text width wide and has no text below 7 pt (it is then closed)."""
    try:
        sizes = visible_text_sizes(fig)
        fig.savefig(pdf)
    finally:
        plt.close(fig)
    drawn, _ = pdf_text_sizes(pdf)
    assert drawn <= plotting.TEXT_WIDTH + 0.01, f"{pdf.stem} is {drawn:.2f} in wide"
    small = [(text, size) for text, size in sizes if size < MIN_POINTS]
    assert not small, f"{pdf.stem}: text below {MIN_POINTS} pt: {small}"


def test_every_function_figure_is_in_the_registry_at_most_the_text_width() -> None:
    assert set(FIGURES) <= set(plotting.PAPER_FIGURE_SIZES)
    for name, (width, height) in plotting.PAPER_FIGURE_SIZES.items():
        assert 0 < width <= plotting.TEXT_WIDTH and 0 < height < 9, name


def test_paper_figsize_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="name"):
        plotting.paper_figsize("no_such_figure")


def test_the_style_draws_no_text_below_7pt() -> None:
    plotting.use_style()
    for key in ("font.size", "axes.titlesize", "axes.labelsize", "legend.fontsize",
                "xtick.labelsize", "ytick.labelsize", "figure.titlesize"):
        value = matplotlib.rcParams[key]
        size = matplotlib.font_manager.FontProperties(size=value).get_size_in_points()
        assert size >= MIN_POINTS, f"{key} = {value!r} is {size:.1f} pt"


@pytest.mark.parametrize(
    ("draw", "message"),
    [
        (lambda: plotting.plot_rnn_fit(np.ones(3), np.ones(4), np.ones(2), np.ones((2, 4)),
                                       np.ones((2, 5))), "targets and outputs"),
        (lambda: plotting.plot_rnn_pca(np.ones((2, 4, 3)), np.ones(3), np.ones((1, 3)),
                                       np.ones(1), explained=np.ones(3)), "path_currents"),
        (lambda: plotting.plot_rnn_pca(np.ones((2, 4, 2)), np.ones(2), np.ones((1, 3)),
                                       np.ones(1), explained=np.ones(3)), "3 components"),
        (lambda: plotting.plot_eigenvalue_comparison(np.ones(3), np.ones((3, 1)), np.ones(2),
                                                     np.ones(2), np.ones(1), np.ones(1)),
         "mu_fhn"),
        (lambda: plotting.plot_translation(np.ones(4), np.ones((2, 4)), np.ones((2, 4)),
                                           np.ones(2), np.ones(2), np.ones(3), 0.1),
         "departures"),
        (lambda: plotting.plot_departure(np.ones(4), np.ones((4, 2)), np.ones((4, 2)),
                                         np.ones((3, 2), bool), np.ones(2), np.ones(2),
                                         np.ones(2)), "left"),
        (lambda: plotting.plot_fhn_comparison(np.ones(3), np.ones(3), np.ones(2), np.ones(2),
                                              cycle_currents=np.ones(2), cycle_mean=np.ones(2),
                                              cycle_min=np.ones(1), cycle_max=np.ones(2)),
         "cycle_min"),
        (lambda: plotting.plot_fhn_comparison_3d(FHN(), np.ones(3), np.ones(2), np.ones(2),
                                                 np.ones(3)), "v_mean"),
    ],
)
def test_new_figure_functions_name_the_argument_with_the_wrong_shape(
    draw: Callable[[], Figure], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        draw()
    plt.close("all")
