"""save_animation (atomic, fixed metadata) and the animated sweep of the FHN phase plane."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image, ImageSequence

from fhnrnn import plotting
from fhnrnn._paths import OUTPUT_ROOT_ENV
from fhnrnn.fhn import FHN

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@pytest.fixture
def output_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(OUTPUT_ROOT_ENV, str(tmp_path))
    return tmp_path


@pytest.fixture
def moving_dot():
    """A figure whose frame k shows a dot at x = k, and its update function."""
    fig, ax = plt.subplots(figsize=(2.0, 1.5))
    (dot,) = ax.plot([0], [0], "o", ms=12)
    ax.set(xlim=(-1, 4), ylim=(-1, 1))

    def update(index: int) -> None:
        dot.set_data([index], [0])

    yield fig, update
    plt.close(fig)


def test_save_animation_writes_one_gif_frame_per_update(output_root: Path, moving_dot) -> None:
    fig, update = moving_dot
    (path,) = plotting.save_animation(fig, update, 4, "dot", fps=5, formats=("gif",))
    assert path == output_root / "figures" / "dot.gif"
    with Image.open(path) as gif:
        frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
        assert gif.info["duration"] == 200
        assert gif.size == (160, 120)  # the whole 2 x 1.5 inch figure at 80 dpi, never cropped
    assert len(frames) == 4
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(frames))


@pytest.mark.parametrize("fmt", ["gif", pytest.param("mp4", marks=needs_ffmpeg)])
def test_save_animation_is_byte_for_byte_reproducible(
    output_root: Path, moving_dot, fmt: str
) -> None:
    fig, update = moving_dot
    (path,) = plotting.save_animation(fig, update, 3, "dot", formats=(fmt,))
    first = path.read_bytes()
    plotting.save_animation(fig, update, 3, "dot", formats=(fmt,))
    assert path.read_bytes() == first and len(first) > 0
    assert not list(path.parent.glob(".*.tmp"))


@needs_ffmpeg
def test_save_animation_writes_gif_and_mp4_where_ffmpeg_exists(output_root: Path, moving_dot):
    fig, update = moving_dot
    paths = plotting.save_animation(fig, update, 2, "dot")
    assert [p.name for p in paths] == ["dot.gif", "dot.mp4"]
    assert paths[1].read_bytes()[4:8] == b"ftyp"


def test_save_animation_without_ffmpeg_writes_the_gif_only(
    output_root: Path, moving_dot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plotting.shutil, "which", lambda name: None)
    fig, update = moving_dot
    assert [p.name for p in plotting.save_animation(fig, update, 2, "dot")] == ["dot.gif"]
    with pytest.raises(ValueError, match="formats: 'mp4' needs ffmpeg"):
        plotting.save_animation(fig, update, 2, "dot", formats=("mp4",))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "a b"}, "name"),
        ({"n_frames": 0}, "n_frames"),
        ({"formats": ("avi",)}, "formats"),
        ({"fps": 0.0}, "fps"),
    ],
)
def test_save_animation_rejects_bad_arguments(
    output_root: Path, moving_dot, arguments: dict, message: str
) -> None:
    fig, update = moving_dot
    settings = {"n_frames": 2, "name": "dot", **arguments}
    with pytest.raises(ValueError, match=message):
        plotting.save_animation(fig, update, **settings)
    assert not (output_root / "figures").exists()


def test_sweep_frames_show_the_network_points_at_their_current() -> None:
    model = FHN()
    currents = np.array([0.3, 0.5, 0.7])
    trajectories = np.zeros((3, 4, 2))
    fig, update = plotting.fhn_sweep_animation(
        model, currents, trajectories, np.array([0.5, 0.5, 0.6]), np.array([-0.4, 0.2, 0.0])
    )
    ax = update(1)
    assert ax.get_title() == f"$I = 0.5$: {model.classify(0.5)}"
    (here,) = [line for line in ax.get_lines() if line.get_marker() == "X"]
    assert np.allclose(here.get_xydata(), [[-0.4, 0.3 / 0.8], [0.2, 0.9 / 0.8]])
    ax = update(2)
    (here,) = [line for line in ax.get_lines() if line.get_marker() == "X"]
    (swept,) = [line for line in ax.get_lines() if line.get_label().endswith("swept")]
    assert here.get_xydata().size == 0
    assert np.allclose(swept.get_xdata(), [-0.4, 0.2, 0.0])
    plt.close(fig)


def test_sweep_needs_one_trajectory_per_current() -> None:
    with pytest.raises(ValueError, match="trajectories"):
        plotting.fhn_sweep_animation(FHN(), [0.3, 0.5], np.zeros((3, 4, 2)), [0.5], [0.1])
