"""The set-up files agree with each other: one dependency list, one torch pin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from setuptools import find_namespace_packages, find_packages

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _makefile_torch_pin() -> str:
    match = re.search(r"^TORCH_PIN := torch==(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "Makefile must pin the CPU torch build in TORCH_PIN"
    return match.group(1)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_torch_range_admits_the_pinned_cpu_build(pyproject: dict) -> None:
    (spec,) = [dep for dep in pyproject["project"]["dependencies"] if dep.startswith("torch")]
    pin = _version_tuple(_makefile_torch_pin())
    for op, bound in re.findall(r"(>=|<=|<|>|==)\s*([\d.]+)", spec):
        bound_tuple = _version_tuple(bound)
        width = max(len(pin), len(bound_tuple))
        a = pin + (0,) * (width - len(pin))
        b = bound_tuple + (0,) * (width - len(bound_tuple))
        assert {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b}[op], spec


def test_environment_yml_installs_the_package_with_the_same_pin() -> None:
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert "python=3.11" in text
    assert f"torch=={_makefile_torch_pin()}" in text
    assert re.search(r"^\s*- -e \.\[test\]$", text, re.M), (
        "environment.yml must pip-install -e .[test]"
    )


def test_required_packages_are_declared(pyproject: dict) -> None:
    declared = {
        re.split(r"[<>=!\[ ]", dep)[0].lower() for dep in pyproject["project"]["dependencies"]
    }
    wanted = {
        "torch",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "jupyterlab",
        "papermill",
        "nbval",
        "ipywidgets",
        "tqdm",
        "filelock",
    }
    assert wanted <= declared
    test_extra = {
        re.split(r"[<>=!\[ ]", dep)[0]
        for dep in pyproject["project"]["optional-dependencies"]["test"]
    }
    assert {"pytest", "ruff"} <= test_extra


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")


def readme_python_blocks() -> list[str]:
    """The ```python blocks of the README, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_examples_run_and_print_what_their_comments_say(capsys) -> None:
    blocks = readme_python_blocks()
    assert len(blocks) == 2
    outputs = []
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
        outputs.append(capsys.readouterr().out)
    assert outputs[0].startswith("FixedPoints: 3 unique fixed points")
    assert "2 stable, 1 not stable" in outputs[0]
    assert outputs[1].strip() == "48"


def test_a_non_editable_install_ships_every_subpackage(pyproject: dict) -> None:
    found = pyproject["tool"]["setuptools"]["packages"]["find"]
    shipped = set(find_packages(where=str(ROOT), include=found["include"]))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "fhnrnn").rglob("__init__.py")
    }
    assert "fhnrnn.fixedpoints" in on_disk
    assert on_disk <= shipped
    folders = set(find_namespace_packages(where=str(ROOT), include=["fhnrnn.*"]))
    code = {name for name in folders if any((ROOT / name.replace(".", "/")).glob("*.py"))}
    assert code <= on_disk, "a folder of modules lacks __init__.py and would not be shipped"
