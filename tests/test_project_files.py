"""The set-up files agree with each other: one dependency list, one torch pin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from setuptools import find_namespace_packages, find_packages

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PUBLIC_INDEX = "https://pypi.org/simple"


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


def test_environment_yml_installs_the_package_with_the_same_pin_and_indexes() -> None:
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert "python=3.11" in text
    assert f"torch=={_makefile_torch_pin()}" in text
    assert re.search(r"^\s*- -e \.\[test\]$", text, re.M), (
        "environment.yml must pip-install -e .[test]"
    )
    assert f"- --index-url {CPU_INDEX}\n" in text
    assert f"- --extra-index-url {PUBLIC_INDEX}\n" in text


def _setup_commands(*overrides: str) -> list[str]:
    """The commands `make setup` would run on a fresh .venv (printed by make, not run)."""
    venv = "/nonexistent/venv"
    command = ["make", "-n", "-B", "setup", f"VENV={venv}", *overrides]
    printed = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return printed.stdout.splitlines()


def test_setup_takes_torch_from_pytorchs_cpu_index_with_the_public_index_as_the_extra() -> None:
    (torch_line,) = [line for line in _setup_commands() if "torch==" in line]
    assert torch_line.endswith(
        f"--index-url {CPU_INDEX} --extra-index-url {PUBLIC_INDEX} torch=={_makefile_torch_pin()}"
    )
    (cuda_line,) = [line for line in _setup_commands("TORCH_INDEX=cu128") if "torch==" in line]
    assert "--index-url https://download.pytorch.org/whl/cu128 " in cuda_line


def test_setup_installs_the_lock_with_hashes_then_the_package_without_dependencies() -> None:
    lines = _setup_commands()
    locked = lines.index(next(line for line in lines if "--require-hashes" in line))
    torch = lines.index(next(line for line in lines if "torch==" in line))
    package = lines.index(next(line for line in lines if line.endswith("--no-deps -e .")))
    assert lines[locked].endswith("--require-hashes -r requirements/test.lock")
    assert locked < torch < package
    assert lines[package + 1].endswith("-m pip check")


def _local_cpu_wheels() -> list[Path]:
    """The pinned +cpu torch wheels in the find-links folders of this machine's pip settings."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True
    ).stdout
    folders = re.findall(r"find-links='([^']+)'", listed)
    folders += os.environ.get("PIP_FIND_LINKS", "").split()
    pattern = f"torch-{_makefile_torch_pin()}+cpu-*.whl"
    return sorted({wheel for folder in folders for wheel in Path(folder).glob(pattern)})


def test_make_setup_would_fetch_the_cpu_build_without_this_machines_local_wheels(
    tmp_path: Path,
) -> None:
    """`make torch-check` against a folder laid out as PyTorch's CPU index (PEP 503).

    The CPU index cannot be reached from here, so a folder with the same layout stands in for
    it, holding this machine's CPU wheel; the public index stays the extra one. The check
    runs pip without any of this machine's pip settings (no local wheel directory), so the
    +cpu build can only come from the folder given as the CPU index.
    """
    wheels = _local_cpu_wheels()
    if not wheels:
        pytest.skip("no local +cpu wheel of the pinned torch to lay out as PyTorch's CPU index")
    wheel = wheels[0]
    project = tmp_path / "cpu" / "torch"
    project.mkdir(parents=True)
    (project / wheel.name).symlink_to(wheel)
    href = wheel.name.replace("+", "%2B")
    (project / "index.html").write_text(f'<html><a href="{href}">{wheel.name}</a></html>')
    command = [
        "make", "-s", "torch-check", f"PYTHON={sys.executable}", f"PY={tmp_path}/no-venv",
        f"TORCH_INDEX_URL={(tmp_path / 'cpu').as_uri()}",
    ]
    printed = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert printed.strip() == f"torch {_makefile_torch_pin()}+cpu from {project.as_uri()}/{href}"


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
    assert len(blocks) == 3
    outputs = []
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
        outputs.append(capsys.readouterr().out)
    assert outputs[0].startswith("FixedPoints: 3 unique fixed points")
    assert "2 stable, 1 not stable" in outputs[0]
    assert outputs[1].strip() == "48"
    assert outputs[2].split() == ["exact", "9", "55", "0"]


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


def _locked(lock: str) -> dict[str, list[str]]:
    """Package name -> the versions its lock file pins (one per marker)."""
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    pinned: dict[str, list[str]] = {}
    for name, version in re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", text, re.M):
        pinned.setdefault(canonicalize_name(name), []).append(version)
    return pinned


def _declared(pyproject: dict, *extras: str) -> list[Requirement]:
    declared = pyproject["project"]["dependencies"]
    for extra in extras:
        declared = declared + pyproject["project"]["optional-dependencies"][extra]
    return [Requirement(dep) for dep in declared]


@pytest.mark.parametrize(
    ("lock", "extras"), [("test.lock", ("test",)), ("book.lock", ("test", "book"))]
)
def test_a_lock_pins_every_declared_package_within_its_bounds(
    pyproject: dict, lock: str, extras: tuple[str, ...]
) -> None:
    pinned = _locked(lock)
    for requirement in _declared(pyproject, *extras):
        if requirement.name == "torch":
            continue
        versions = pinned.get(canonicalize_name(requirement.name))
        assert versions, f"{lock} lacks {requirement.name}: run make lock"
        for version in versions:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock} pins {requirement.name}=={version}, outside {requirement.specifier}"
            )


@pytest.mark.parametrize("lock", ["test.lock", "book.lock"])
def test_a_lock_hashes_every_package_and_leaves_torch_and_cuda_out(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    entries = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M)[1:]
    assert len(entries) == sum(len(v) for v in _locked(lock).values()) > 100
    assert all("--hash=sha256:" in entry for entry in entries)
    names = set(_locked(lock))
    assert "torch" not in names, "torch comes from TORCH_INDEX_URL, not from the lock"
    assert not {name for name in names if name.startswith(("nvidia-", "triton", "cuda-"))}
    assert {"sympy", "networkx", "jinja2", "fsspec"} <= names, "torch's own dependencies"


def test_the_test_lock_takes_the_book_locks_versions() -> None:
    book = _locked("book.lock")
    for name, versions in _locked("test.lock").items():
        assert set(versions) <= set(book.get(name, [])), name


def test_make_lock_installs_the_uv_that_pyproject_declares(pyproject: dict) -> None:
    match = re.search(r"^UV_REQUIREMENT := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match and pyproject["project"]["optional-dependencies"]["lock"] == [match.group(1)]
