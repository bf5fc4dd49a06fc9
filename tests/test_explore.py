"""The explorers: pure drawing functions on the Agg backend, and the slider wiring."""

from __future__ import annotations

import base64
import copy
import io
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from fhnrnn import explore
from fhnrnn.analysis import fixed_point_branch, fixed_points_by_input, rollout_float64, translate
from fhnrnn.fhn import FHN
from fhnrnn.fixedpoints import find_fixed_points
from fhnrnn.models import ResidualMLPCell, TanhRNN
from fhnrnn.tasks import sine_wave


@pytest.fixture(scope="module")
def fhn() -> FHN:
    return FHN()


def _marker_lines(ax, marker: str) -> list:
    return [line for line in ax.get_lines() if line.get_marker() == marker]


# ---------------------------------------------------------------- drawing functions


def test_draw_phase_plane_draws_the_trajectory_it_is_given(fhn: FHN) -> None:
    trajectory = np.array([[0.0, 0.0], [0.5, 0.1], [1.0, 0.3]])
    ax = explore.draw_phase_plane(Figure(), fhn, 1.0, trajectory)
    assert ax.get_title() == "$I = 1$: unstable node"
    (path,) = [line for line in ax.get_lines() if line.get_label() == "trajectory"]
    assert np.array_equal(path.get_xydata(), trajectory)


def test_draw_sine_condition_marks_the_leading_pair_and_the_target_angle() -> None:
    times = np.arange(5.0)
    eigenvalues = np.array([[1.01 * np.exp(0.3j), 1.01 * np.exp(-0.3j), 0.5 + 0.0j]])
    ax_time, ax_eig = explore.draw_sine_condition(
        Figure(), times, np.sin(0.3 * times), np.zeros(5), eigenvalues, omega=0.3, dt=1.0
    )
    lead = _marker_lines(ax_eig, "o")
    assert sorted(float(line.get_ydata()[0]) for line in lead) == pytest.approx(
        [-1.01 * np.sin(0.3), 1.01 * np.sin(0.3)]
    )
    (ray, _) = [line for line in ax_eig.get_lines() if line.get_linestyle() == "--"]
    assert np.arctan2(ray.get_ydata()[1], ray.get_xdata()[1]) == pytest.approx(0.3)
    assert "0.300" in ax_eig.get_title() and "1.010" in ax_eig.get_title()
    assert ax_time.get_title() == r"$\omega = 0.300$"


def test_draw_sine_condition_says_when_no_fixed_point_was_found() -> None:
    times = np.arange(3.0)
    _, ax_eig = explore.draw_sine_condition(
        Figure(), times, times, times, np.empty((0, 4), complex), omega=0.2, dt=1.0
    )
    assert ax_eig.get_title() == "no fixed point found"


def test_draw_network_current_puts_the_translated_points_on_the_w_nullcline(fhn: FHN) -> None:
    times = np.arange(4.0)
    states = np.zeros((4, 2))
    v_tilde = np.array([-0.2, 0.4])
    eigenvalues = np.array([[1.02 + 0.1j, 1.02 - 0.1j], [3.0, 0.5]])
    ax_plane, ax_time, ax_eig = explore.draw_network_current(
        Figure(), fhn, 1.0, times, states, np.ones(4), v_tilde, 0.1, eigenvalues, dt=0.3
    )
    (points,) = _marker_lines(ax_plane, "X")
    assert np.allclose(points.get_xydata(), np.column_stack([v_tilde, (v_tilde + 0.7) / 0.8]))
    levels = {line.get_label(): line.get_ydata()[0] for line in ax_time.get_lines()}
    assert levels[r"$\tilde v^*$"] == pytest.approx(-0.2)
    assert levels["$v^*$"] == pytest.approx(fhn.fixed_point(1.0)[0])
    assert ax_eig.get_xlim()[1] >= 3.0
    (network,) = [line for line in ax_eig.get_lines() if line.get_label() == "network, leading"]
    assert np.allclose(network.get_xdata(), eigenvalues.ravel().real)


def test_draw_network_current_keeps_the_fhn_eigenvalues_in_view(fhn: FHN) -> None:
    euler = 1 + 0.3 * fhn.eigenvalues(1.0)  # 1.22 and 1.01
    *_, ax_eig = explore.draw_network_current(
        Figure(),
        fhn,
        1.0,
        np.arange(2.0),
        np.zeros((2, 2)),
        np.zeros(2),
        np.array([0.1]),
        0.1,
        np.array([[0.5 + 0.0j]]),
        dt=0.3,
    )
    (marks,) = _marker_lines(ax_eig, "+")
    assert np.allclose(marks.get_xdata(), euler.real)
    assert ax_eig.get_xlim()[1] > euler.real.max()


def test_draw_flow_comparison_marks_both_fixed_points(fhn: FHN) -> None:
    positions = np.array([[0.0, 0.0], [1.0, 1.0]])
    ax_fhn, ax_net = explore.draw_flow_comparison(
        Figure(), fhn, 1.0, positions, np.ones((2, 2)), np.array([0.3, 1.2]), "stable focus"
    )
    assert ax_net.get_title() == "network: stable focus"
    assert ax_fhn.get_title() == "FHN: unstable node"
    (star,) = _marker_lines(ax_net, "*")
    assert np.allclose(star.get_xydata(), [[0.3, 1.2]])
    (ring,) = _marker_lines(ax_net, "o")
    assert np.allclose(ring.get_xydata()[0], fhn.fixed_point(1.0))


# ---------------------------------------------------------------- the widget wiring


def _moved(explorer: explore.Explorer, value: object) -> tuple[bytes, bytes]:
    before = bytes(explorer.image.value)
    explorer.slider.value = value
    return before, bytes(explorer.image.value)


def test_phase_plane_explorer_redraws_when_the_slider_moves(fhn: FHN) -> None:
    explorer = explore.explore_phase_plane(fhn, [0.2, 1.0], value=0.2, t_max=5.0)
    assert explorer.slider.options == (("0.2", 0), ("1", 1))
    assert explorer.slider.label == "0.2"
    assert explorer.figure.axes[0].get_title() == "$I = 0.2$: stable focus"
    before, after = _moved(explorer, 1)
    assert before.startswith(b"\x89PNG") and after.startswith(b"\x89PNG") and before != after
    assert explorer.figure.axes[0].get_title() == "$I = 1$: unstable node"
    assert "application/vnd.jupyter.widget-view+json" in explorer._repr_mimebundle_()


@pytest.mark.parametrize(
    ("value", "expected"), [(None, False), ("", False), ("0", False), ("1", True)]
)
def test_headless_reads_the_environment(monkeypatch: pytest.MonkeyPatch, value, expected) -> None:
    if value is None:
        monkeypatch.delenv(explore.HEADLESS_ENV, raising=False)
    else:
        monkeypatch.setenv(explore.HEADLESS_ENV, value)
    assert explore.headless() is expected


def test_explorer_needs_options() -> None:
    with pytest.raises(ValueError, match="options"):
        explore.Explorer("x", [], lambda fig, value: None, figsize=(2, 2))


def test_phase_plane_explorer_rejects_bad_currents(fhn: FHN) -> None:
    with pytest.raises(ValueError, match="currents"):
        explore.explore_phase_plane(fhn, [[0.2, 1.0]])


@pytest.fixture(scope="module")
def tanh_cell() -> TanhRNN:
    return TanhRNN(1, 1, 6, spectral_radius=0.5, seed=0)


def test_sine_explorer_shows_each_condition_with_its_fixed_point(tanh_cell: TanhRNN) -> None:
    task = sine_wave(3, n_steps=20)
    _, outputs = rollout_float64(tanh_cell, task.levels, 20)
    points = find_fixed_points(tanh_cell, np.zeros((3, 6)), task.levels[:, None], progress=False)
    explorer = explore.explore_sine_wave(task, outputs, points)
    assert len(explorer.slider.options) == 3
    before, after = _moved(explorer, 0)
    assert before != after
    ax_time = explorer.figure.axes[0]
    (network,) = [line for line in ax_time.get_lines() if line.get_label() == "network"]
    assert np.allclose(network.get_ydata(), outputs[0, :, 0])
    with pytest.raises(ValueError, match="outputs"):
        explore.explore_sine_wave(task, outputs[:2], points)


def test_network_current_explorer_shows_the_network_at_the_chosen_current(
    fhn: FHN, tanh_cell: TanhRNN
) -> None:
    currents = np.array([0.5, 1.0])
    points = fixed_points_by_input(tanh_cell, currents, n_steps=10, n_per_input=2, progress=False)
    explorer = explore.explore_network_current(fhn, tanh_cell, points, [0.0, 0.1], t_max=3.0)
    before, after = _moved(explorer, 0)
    assert before != after
    ax_plane, ax_time, _ = explorer.figure.axes
    assert ax_plane.get_title().startswith("$I = 0.5$")
    (network,) = [line for line in ax_time.get_lines() if line.get_label() == "network"]
    _, expected = rollout_float64(tanh_cell, [0.5], 11)
    assert np.allclose(network.get_ydata(), expected[0, :, 0])
    with pytest.raises(ValueError, match="mean_voltage"):
        explore.explore_network_current(fhn, tanh_cell, points, [0.0])


@pytest.fixture(scope="module")
def flow_cell() -> ResidualMLPCell:
    cell = ResidualMLPCell(2, input_size=1, output_size=2, width=8, depth=1, dt=0.5, seed=0)
    with torch.no_grad():
        cell.last_layer.weight.copy_(torch.linspace(-0.5, 0.5, 16).reshape(2, 8))
        cell.last_layer.bias.copy_(torch.tensor([0.1, -0.2]))
    return cell


def test_network_flow_is_one_step_of_the_read_out_over_dt(flow_cell: ResidualMLPCell) -> None:
    grid = np.array([[0.0, 0.0], [1.0, -0.5]])
    positions, velocity = explore._network_flow(flow_cell, np.array([0.2, 0.9]), grid, 0.5)
    x = flow_cell.encode(torch.as_tensor(grid, dtype=torch.float32)).double()
    cell = copy.deepcopy(flow_cell).double()
    with torch.no_grad():
        here = cell.readout(x)
        there = cell.readout(cell.step(x, torch.full((2, 1), 0.9, dtype=torch.float64)))
    assert np.allclose(positions, here.numpy())
    assert np.allclose(velocity[1], ((there - here) / 0.5).numpy())


def test_flow_explorer_compares_the_network_with_the_fhn(
    fhn: FHN, flow_cell: ResidualMLPCell
) -> None:
    currents = np.array([0.3, 1.0])
    with torch.no_grad():
        starts = flow_cell.encode(torch.zeros(2, 2)).double().numpy()
    points = fixed_point_branch(flow_cell, currents, starts, progress=False)
    explorer = explore.explore_network_flow(fhn, flow_cell, points, dt=0.5, value=1.0)
    before, after = _moved(explorer, 0)
    assert before != after
    ax_fhn, ax_net = explorer.figure.axes
    assert ax_fhn.get_title() == f"FHN: {fhn.classify(0.3)}"
    (star,) = _marker_lines(ax_net, "*")
    assert np.allclose(star.get_xydata()[0], translate(flow_cell, points.xstar[:1])[0])


def test_flow_explorer_needs_an_encoder(fhn: FHN, tanh_cell: TanhRNN) -> None:
    points = fixed_points_by_input(tanh_cell, [0.5], n_steps=5, n_per_input=1, progress=False)
    with pytest.raises(ValueError, match="model"):
        explore.explore_network_flow(fhn, tanh_cell, points, dt=0.5)


# ------------------------------------------------- the static counterpart (no kernel)


def _frames(html: str) -> list[Image.Image]:
    encoded = re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]*)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(item))) for item in encoded]


def test_scrubber_shows_evenly_spread_positions_and_makes_no_widget() -> None:
    drawn = []

    def draw(fig: Figure, value: int) -> None:
        drawn.append(value)
        fig.subplots().axhline(value)

    explorer = explore.Explorer("k", [(str(k), k) for k in range(5)], draw, figsize=(2, 1.5))
    html = explorer.scrubber(3, dpi=40).data
    frames = _frames(html)
    assert len(frames) == 3 and set(drawn) == {0, 2, 4}
    assert all(frame.mode == "P" and frame.size == (80, 60) for frame in frames)
    assert "widget" not in vars(explorer)  # no widget state lands in an executed notebook
    assert explorer.scrubber(3, dpi=40).data == html  # the same bytes every run


def test_scrubber_loads_nothing_from_the_internet(fhn: FHN) -> None:
    explorer = explore.explore_phase_plane(fhn, [0.2, 1.0], t_max=5.0)
    html = explorer.scrubber(2, dpi=30).data
    first, second = (np.asarray(frame.convert("RGB")) for frame in _frames(html))
    assert not np.array_equal(first, second)
    assert "<link" not in html and 'class="fa' not in html
    assert re.findall(r"https?://[^\s\"']+", html) == []


def test_palette_frames_keep_every_colour_of_the_plot(fhn: FHN) -> None:
    fig = Figure(figsize=(3.2, 2.4), dpi=60)
    explore.draw_phase_plane(fig, fhn, 1.0, fhn.simulate(1.0, t_max=50.0, dt=0.05)[1])
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    original = np.asarray(Image.open(buffer).convert("RGB"), dtype=int)
    palette = Image.open(io.BytesIO(base64.b64decode(explore._palette_png(encoded))))
    error = np.abs(np.asarray(palette.convert("RGB"), dtype=int) - original).max()
    assert palette.mode == "P" and error <= 24  # of 255 levels, at the worst pixel


@pytest.mark.parametrize(("frames", "dpi"), [(0, 50.0), (2.5, 50.0), (True, 50.0), (3, 0.0)])
def test_scrubber_rejects_bad_arguments(frames, dpi) -> None:
    explorer = explore.Explorer("k", [("a", 0), ("b", 1)], lambda fig, v: None, figsize=(2, 2))
    with pytest.raises(ValueError, match="frames" if dpi > 0 else "dpi"):
        explorer.scrubber(frames, dpi=dpi)


def test_offline_jshtml_refuses_other_html() -> None:
    with pytest.raises(ValueError, match="to_jshtml"):
        explore.offline_jshtml("<p>not an animation</p>")
