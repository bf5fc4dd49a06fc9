"""Outputs of the paper: recorded numbers, saved figures, and reproduce's pure helpers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fhnrnn import paper, plotting, reproduce
from fhnrnn._paths import OUTPUT_ROOT_ENV


@pytest.fixture
def output_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(OUTPUT_ROOT_ENV, str(tmp_path))
    return tmp_path


def _numbers(root: Path) -> dict:
    return json.loads((root / "paper" / "generated" / "numbers.json").read_text())


def _tex(root: Path) -> str:
    return (root / "paper" / "generated" / "numbers.tex").read_text()


# ---------------------------------------------------------------------------- paper.record


def test_record_writes_json_and_tex(output_root: Path) -> None:
    text = paper.record("hopfLow", 0.331281337, ".5f", source="01")
    assert text == "0.33128"
    assert _numbers(output_root) == {
        "hopfLow": {"value": 0.331281337, "text": "0.33128", "source": "01"}
    }
    tex = _tex(output_root)
    assert r"\providecommand{\rec}" in tex
    assert r"\expandafter\def\csname fhnrec@hopfLow\endcsname{0.33128}  % from 01" in tex


def test_record_keeps_integers_strings_and_numpy_scalars(output_root: Path) -> None:
    paper.record("count", np.int64(14))
    paper.record("kind", "unstable node")
    paper.record("ratio", np.float64(2.0 / 3.0))
    numbers = _numbers(output_root)
    assert numbers["count"]["value"] == 14 and isinstance(numbers["count"]["value"], int)
    assert numbers["count"]["text"] == "14"
    assert numbers["kind"] == {"value": "unstable node", "text": "unstable node", "source": ""}
    assert numbers["ratio"]["text"] == "0.667"
    assert paper.load_numbers() == numbers


def test_record_unwraps_zero_dimensional_arrays(output_root: Path) -> None:
    assert paper.record("mean", np.mean(np.array([0.25, 0.75]), keepdims=True)[0]) == "0.5"
    assert paper.record("total", np.array(3)) == "3"
    assert _numbers(output_root)["total"]["value"] == 3


def test_rerecording_one_entry_keeps_the_others(output_root: Path) -> None:
    paper.record("alpha", 1.0)
    paper.record("beta", 2.0)
    paper.record("alpha", 3.5, ".2f")
    numbers = _numbers(output_root)
    assert numbers["alpha"]["text"] == "3.50"
    assert numbers["beta"]["text"] == "2"
    tex = _tex(output_root)
    assert tex.count("fhnrec@alpha") == 1 and "fhnrec@beta" in tex
    assert tex.index("fhnrec@alpha") < tex.index("fhnrec@beta"), "entries are sorted"


def test_record_escapes_latex_specials(output_root: Path) -> None:
    paper.record("share", "50% of runs_ok #1")
    assert r"{50\% of runs\_ok \#1}" in _tex(output_root)


@pytest.mark.parametrize("name", ["hopf_low", "hopf1", "", "hopf low", "\\hopf", 7])
def test_record_rejects_names_that_are_not_letters(output_root: Path, name: object) -> None:
    with pytest.raises(ValueError, match="name must be letters only"):
        paper.record(name, 1.0)
    assert not (output_root / "paper").exists()


def test_record_rejects_a_name_with_a_trailing_newline(output_root: Path) -> None:
    with pytest.raises(ValueError, match="name must be letters only"):
        paper.record("hopf\n", 1.0)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -np.inf])
def test_record_rejects_non_finite_values(output_root: Path, value: float) -> None:
    with pytest.raises(ValueError, match="value must be finite"):
        paper.record("bad", value)


@pytest.mark.parametrize("value", [None, [1.0], True, 1 + 2j])
def test_record_rejects_values_that_are_not_real_numbers(output_root: Path, value: object) -> None:
    with pytest.raises(ValueError, match="value must be a real number or a string"):
        paper.record("bad", value)


def test_load_numbers_is_empty_before_any_record(output_root: Path) -> None:
    assert paper.load_numbers() == {}


def _tex_line(root: Path, name: str) -> str:
    (line,) = [line for line in _tex(root).splitlines() if f"fhnrec@{name}" in line]
    return line


@pytest.mark.parametrize(
    "value, shown",
    [
        ("}", r"\}"),
        ("{", r"\{"),
        ("a\\b", r"a\textbackslash{}b"),
        ("$x^2$ & ~y", r"\$x\^{}2\$ \& \textasciitilde{}y"),
        ("two\nlines\r\n\nhere", "two lines here"),
    ],
)
def test_record_escapes_every_latex_special_in_a_string(
    output_root: Path, value: str, shown: str
) -> None:
    paper.record("z", value)
    assert _tex_line(output_root, "z") == rf"\expandafter\def\csname fhnrec@z\endcsname{{{shown}}}"
    assert _numbers(output_root)["z"]["value"] == value


def test_record_escapes_formatted_numbers(output_root: Path) -> None:
    assert paper.record("share", 0.125, ".1%") == "12.5%"
    assert _tex_line(output_root, "share").endswith(r"{12.5\%}")


def test_record_keeps_a_source_on_its_comment_line(output_root: Path) -> None:
    paper.record("count", 3, "d", source="03\n\\def\\x{1}")
    tex = _tex(output_root)
    line = _tex_line(output_root, "count")
    assert line.startswith(r"\expandafter\def\csname fhnrec@count\endcsname{3}  % from 03 ")
    assert tex.count("\n") == len(tex.splitlines()), "no line but the entries and the header"
    assert not any(row.startswith("\\def") for row in tex.splitlines())


@pytest.mark.parametrize("source", [None, 3, b"03"])
def test_record_rejects_a_source_that_is_not_text(output_root: Path, source: object) -> None:
    with pytest.raises(ValueError, match=r"^source must be a string, got "):
        paper.record("count", 3, source=source)


@pytest.mark.parametrize("fmt", ["q", ".3x", "d", 3, None, ".2.2f"])
def test_record_names_a_bad_fmt(output_root: Path, fmt: object) -> None:
    with pytest.raises(ValueError, match=r"^fmt must be a format specification for 0.5"):
        paper.record("bad", 0.5, fmt)
    assert not (output_root / "paper").exists()


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[1, 2]",
        '{"a": 1}',
        '{"a": {"text": "1"}}',
        '{"a": {"value": 1, "text": 1, "source": ""}}',
        "\x00\xff",
    ],
)
def test_a_corrupt_numbers_json_is_named(output_root: Path, content: str) -> None:
    path = output_root / "paper" / "generated" / "numbers.json"
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="latin-1")
    for call in (paper.load_numbers, lambda: paper.record("alpha", 1.0)):
        with pytest.raises(ValueError, match=rf"^{re.escape(str(path))} is not a numbers file"):
            call()
    assert path.read_text(encoding="latin-1") == content, "the corrupt file is left for a look"


_RECORDER = """
import sys, time
from pathlib import Path
from fhnrnn import paper
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.001)
for k in range(int(sys.argv[3])):
    paper.record(sys.argv[2] + "x" * k, k, "d")
"""


def test_processes_recording_at_once_lose_nothing(output_root: Path) -> None:
    go = output_root / "go"
    names, per_process = ["alpha", "beta", "gamma", "delta"], 25
    environment = {**os.environ, OUTPUT_ROOT_ENV: str(output_root)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _RECORDER, str(go), name, str(per_process)], env=environment
        )
        for name in names
    ]
    go.touch()
    assert [worker.wait(timeout=120) for worker in workers] == [0] * len(names)
    expected = {name + "x" * k for name in names for k in range(per_process)}
    assert set(_numbers(output_root)) == expected
    assert len(re.findall(r"fhnrec@", _tex(output_root))) == len(expected) + 2


# ---------------------------------------------------------------------------- save_figure


def _draw() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(3.0, 2.0))
    x = np.linspace(0.0, 1.0, 50)
    ax.plot(x, np.sin(6 * x), label="sine")
    ax.set(xlabel="x", ylabel="y", title="test figure")
    ax.legend()
    return fig


def test_save_figure_writes_png_and_pdf(output_root: Path) -> None:
    fig = _draw()
    written = plotting.save_figure(fig, "demo_1-a")
    plt.close(fig)
    assert written == [
        output_root / "figures" / "demo_1-a.png",
        output_root / "figures" / "demo_1-a.pdf",
    ]
    assert written[0].read_bytes().startswith(b"\x89PNG")
    assert written[1].read_bytes().startswith(b"%PDF")


def test_save_figure_writes_only_the_formats_asked_for(output_root: Path) -> None:
    fig = _draw()
    (written,) = plotting.save_figure(fig, "only_png", formats=("png",))
    plt.close(fig)
    assert written.suffix == ".png"
    assert sorted(p.name for p in (output_root / "figures").iterdir()) == ["only_png.png"]


@pytest.mark.parametrize("fmt", ["png", "pdf"])
def test_save_figure_is_byte_for_byte_reproducible(output_root: Path, fmt: str) -> None:
    contents = []
    for _ in range(2):
        fig = _draw()
        (path,) = plotting.save_figure(fig, "again", formats=(fmt,))
        plt.close(fig)
        contents.append(path.read_bytes())
    assert contents[0] == contents[1]


@pytest.mark.parametrize("name", ["", "../escape", "a b", "-leading", "dir/name", "x.png", 3])
def test_save_figure_rejects_bad_names(output_root: Path, name: object) -> None:
    fig = _draw()
    with pytest.raises(ValueError, match="name must be"):
        plotting.save_figure(fig, name)
    plt.close(fig)
    assert not (output_root / "figures").exists()


def test_save_figure_rejects_a_name_too_long_for_a_file(output_root: Path) -> None:
    fig = _draw()
    try:
        (written,) = plotting.save_figure(fig, "a" * 200, formats=("png",))
        assert written.name == "a" * 200 + ".png"
        with pytest.raises(ValueError, match=r"^name must be at most 200 characters, got 201"):
            plotting.save_figure(fig, "b" * 201)
        with pytest.raises(ValueError, match=r"^name must be at most 200 characters, got 300"):
            plotting.save_figure(fig, "c" * 300)
    finally:
        plt.close(fig)
    assert [path.name for path in (output_root / "figures").iterdir()] == [written.name]


def test_save_figure_rejects_a_name_with_a_trailing_newline(output_root: Path) -> None:
    fig = _draw()
    try:
        with pytest.raises(ValueError, match="name must be"):
            plotting.save_figure(fig, "fig\n")
    finally:
        plt.close(fig)


def test_save_figure_rejects_what_is_not_a_figure_or_format(output_root: Path) -> None:
    fig = _draw()
    with pytest.raises(ValueError, match="fig must be a matplotlib Figure"):
        plotting.save_figure(fig.axes[0], "axes")
    for formats in [("svg",), ()]:
        with pytest.raises(ValueError, match="formats must be drawn from"):
            plotting.save_figure(fig, "fmt", formats=formats)
    plt.close(fig)


# ---------------------------------------------------------------------------- reproduce helpers


def _paths(*names: str) -> list[Path]:
    return [Path("notebooks") / name for name in names]


def test_numbered_notebooks_keeps_two_digit_names_in_order(tmp_path: Path) -> None:
    for name in ["02_b.ipynb", "01_a.ipynb", "1_short.ipynb", "notes.ipynb", "03_c.txt"]:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in reproduce.numbered_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]


def test_select_notebooks_without_only_keeps_all() -> None:
    notebooks = _paths("01_a.ipynb", "02_b.ipynb")
    assert reproduce.select_notebooks(notebooks, None) == notebooks
    assert reproduce.select_notebooks(notebooks, []) == notebooks


def test_select_notebooks_pads_sorts_and_deduplicates() -> None:
    notebooks = _paths("01_a.ipynb", "02_b.ipynb", "03_c.ipynb")
    chosen = reproduce.select_notebooks(notebooks, ["3", "01", "1"])
    assert chosen == _paths("01_a.ipynb", "03_c.ipynb")


def test_select_notebooks_names_the_missing_prefix() -> None:
    with pytest.raises(ValueError, match=r"only: no notebook with prefix 07; available: 01, 02"):
        reproduce.select_notebooks(_paths("01_a.ipynb", "02_b.ipynb"), ["07", "01"])


def test_select_notebooks_refuses_two_notebooks_with_one_prefix() -> None:
    with pytest.raises(ValueError, match="share the prefix 02"):
        reproduce.select_notebooks(_paths("02_a.ipynb", "02_b.ipynb"), ["02"])


def test_strip_papermill_metadata_removes_only_papermill_keys() -> None:
    notebook = {
        "metadata": {"kernelspec": {"name": "python3"}, "papermill": {"duration": 1.0}},
        "cells": [
            {
                "metadata": {
                    "tags": ["parameters"],
                    "papermill": {"status": "completed"},
                    "execution": {"iopub.execute_input": "2026-01-01T00:00:00"},
                },
                "outputs": [{"text": "kept"}],
            },
            {"metadata": {}},
            {},
        ],
    }
    stripped = reproduce.strip_papermill_metadata(notebook)
    assert stripped["metadata"] == {"kernelspec": {"name": "python3"}}
    assert stripped["cells"][0]["metadata"] == {"tags": ["parameters"]}
    assert stripped["cells"][0]["outputs"] == [{"text": "kept"}]
    assert stripped["cells"][1:] == [{"metadata": {}}, {}]


# ---------------------------------------------------------------------------- FHN figure kinds


@pytest.fixture(scope="module")
def fhn_model():
    from fhnrnn.fhn import FHN

    return FHN()


def _legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_fixed_point_figure_colours_each_run_of_one_type(fhn_model) -> None:
    currents = np.linspace(0.0, 1.75, 351)
    fig = plotting.plot_fixed_points(fhn_model, currents)
    left = fig.axes[0]
    kinds = fhn_model.classify(currents)
    runs = 1 + np.count_nonzero(kinds[1:] != kinds[:-1])
    curves = [line for line in left.get_lines() if line.get_linestyle() == "-"]
    assert len(curves) == runs == 5
    for line in curves:
        inside = np.isin(currents, line.get_xdata())
        assert np.allclose(line.get_ydata(), fhn_model.fixed_point(currents[inside])[0])
    assert _legend_labels(left) == [
        "stable focus",
        "unstable focus",
        "unstable node",
        "Hopf points",
    ]
    plt.close(fig)


def test_phase_plane_names_the_fixed_point_type(fhn_model) -> None:
    fig, ax = plt.subplots()
    plotting.plot_phase_plane(ax, fhn_model, 1.0, trajectory=np.zeros((3, 2)))
    assert ax.get_title() == "$I = 1$: unstable node"
    assert any("0.732" in text.get_text() for text in ax.texts)
    plt.close(fig)


def test_bifurcation_figure_needs_one_cycle_entry_per_current(fhn_model) -> None:
    with pytest.raises(ValueError, match="cycles must have one entry per current"):
        plotting.plot_bifurcation(fhn_model, np.array([0.2, 1.0]), [None])


def test_bifurcation_figure_draws_the_cycles_it_is_given(fhn_model) -> None:
    currents = np.array([0.2, 1.0])
    cycles = [None, fhn_model.limit_cycle(1.0)]
    fig = plotting.plot_bifurcation(fhn_model, currents, cycles)
    top, bottom = fig.axes
    markers = [line for line in top.get_lines() if line.get_marker() == "o"]
    assert sorted(float(line.get_ydata()[0]) for line in markers) == [
        cycles[1].v_min,
        cycles[1].v_max,
    ]
    (period,) = [line for line in bottom.get_lines() if line.get_marker() == "o"]
    assert list(period.get_xdata()) == [1.0] and list(period.get_ydata()) == [cycles[1].period]
    plt.close(fig)
