"""The notebooks' explorers in a real browser: JupyterLab driven by headless Chromium.

For each notebook checked (a copy under ``OUT/notebooks``, so the committed one keeps its
outputs; its figures and numbers go to ``OUT/figures`` and ``OUT/paper``): open it in
JupyterLab, run every cell, wait for the explorer's image, move its slider with the mouse,
and check that the image's pixels changed and that no cell shows an error. Screenshots go to
``OUT``. The JupyterLab server listens on 127.0.0.1 with a random token, runs its kernels
without ``FHNRNN_HEADLESS`` (as a person would), and is stopped whatever happens.

Run with ``make browser-test`` (it installs Chromium and Playwright when missing), or
``python tests/browser/check_explorers.py [--out build/browser] [--notebooks 01 05]``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from chromium import ROOT, launch
from PIL import Image, ImageChops
from playwright.sync_api import BrowserContext, Page, sync_playwright

from fhnrnn.explore import CSS_CLASS, HEADLESS_ENV

RUN_TIMEOUT_MS = 15 * 60 * 1000  # every cell of one notebook, the first training included
EXPLORER = f".{CSS_CLASS}"
# The notebook's cells and their outputs, read from JupyterLab's model of the notebook.
OUTPUT_TYPES_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const found = [];
  for (let i = 0; i < cells.length; i++) {
    const outputs = cells.get(i).outputs;
    for (let k = 0; outputs && k < outputs.length; k++) {
      const output = outputs.get(k).toJSON();
      found.push([i, output.output_type, output.ename || output.name || ""]);
    }
  }
  return found;
}"""
KERNEL_IDLE_JS = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return kernel && kernel.status === "idle";
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(url: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer at {url} within {timeout:.0f} s")


def _settings(folder: Path) -> Path:
    """User settings of a fresh JupyterLab: no news pop-up over the screenshots."""
    path = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"fetchNews": "false"}\n')
    return folder


@contextmanager
def jupyter_lab(folder: Path, outputs: Path, log: Path) -> Iterator[str]:
    """Serve ``folder`` with a fresh JupyterLab on 127.0.0.1; yield the URL of a notebook.

    The yielded string has a ``{name}`` field for the notebook's file name. The server's
    runtime files, workspaces and settings live in a temporary folder.
    """
    port, token = _free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1"]
    command += [f"--port={port}", f"--IdentityProvider.token={token}", "--expose-app-in-browser"]
    command += [f"--ServerApp.root_dir={folder}"]
    command += ["--allow-root"] if os.geteuid() == 0 else []
    with tempfile.TemporaryDirectory() as state, log.open("w") as handle:
        env = {
            **{key: value for key, value in os.environ.items() if key != HEADLESS_ENV},
            "FHNRNN_OUTPUT_ROOT": str(outputs),
            "JUPYTER_RUNTIME_DIR": str(Path(state) / "runtime"),
            "JUPYTERLAB_WORKSPACES_DIR": str(Path(state) / "workspaces"),
            "JUPYTERLAB_SETTINGS_DIR": str(_settings(Path(state) / "settings")),
        }
        server = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_until_ready(f"{base}/api/status?token={token}", server)
            yield f"{base}/lab/tree/{{name}}?reset&token={token}"
        finally:
            _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and its kernels (its process group): TERM, then KILL after 15 s."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _drag_slider(page: Page, explorer: str) -> None:
    """Drag the slider handle of ``explorer`` (a selector) a third of the track to the left."""
    track = page.locator(f"{explorer} .widget-slider .noUi-target").first.bounding_box()
    handle = page.locator(f"{explorer} .widget-slider .noUi-handle").first.bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - track["width"] / 3, y, steps=12)
    page.mouse.up()


def _changed_fraction(before: Path, after: Path) -> float:
    """Fraction of pixels that differ, over the area both screenshots cover.

    Element screenshots can differ by a pixel in size with the element's sub-pixel position.
    """
    with Image.open(before) as first, Image.open(after) as second:
        box = (0, 0, min(first.width, second.width), min(first.height, second.height))
        difference = ImageChops.difference(
            first.convert("RGB").crop(box), second.convert("RGB").crop(box)
        )
        return float(np.mean(np.asarray(difference.convert("L")) > 16))


def check_notebook(context: BrowserContext, url: str, out: Path) -> dict:
    """Run one notebook, move its explorer's slider; return what was seen."""
    stem = Path(url.split("?")[0]).stem
    page = context.new_page()
    try:
        return _run_and_move(page, url, stem, out)
    except Exception:
        page.screenshot(path=out / f"{stem}-failure.png")
        raise
    finally:
        page.close()


def _run_and_move(page: Page, url: str, stem: str, out: Path) -> dict:
    started = time.monotonic()
    page.goto(url)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=120_000)
    # Only the explorer of the notebook opened here (not of a tab left from an earlier page).
    panel = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    explorer = f'[id="{panel}"] {EXPLORER}'
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    image = page.locator(f"{explorer} img.widget-image").first
    image.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
    page.wait_for_function(KERNEL_IDLE_JS, timeout=RUN_TIMEOUT_MS)
    # JupyterLab renders cells outside the view lazily: bring the explorer into view first
    # (by the DOM's own scrolling, which, unlike Playwright's, does not wait to be visible).
    page.locator(explorer).first.evaluate("box => box.scrollIntoView({block: 'center'})")
    image.wait_for(state="visible", timeout=60_000)
    readout = page.locator(f"{explorer} .widget-slider .widget-readout").first
    label_before, source_before = readout.inner_text(), image.get_attribute("src")
    image.screenshot(path=out / f"{stem}-before.png")
    page.screenshot(path=out / f"{stem}-page-before.png")
    _drag_slider(page, explorer)
    page.wait_for_function(
        "([selector, old]) => document.querySelector(selector).getAttribute('src') !== old",
        arg=[f"{explorer} img.widget-image", source_before],
        timeout=60_000,
    )
    page.wait_for_function(KERNEL_IDLE_JS, timeout=60_000)
    image.screenshot(path=out / f"{stem}-after.png")
    page.screenshot(path=out / f"{stem}-page-after.png")
    outputs = page.evaluate(OUTPUT_TYPES_JS)
    widget_errors = page.get_by_text("Error displaying widget").count()
    return {
        "notebook": stem,
        "seconds": time.monotonic() - started,
        "slider": (label_before, readout.inner_text()),
        "changed": _changed_fraction(out / f"{stem}-before.png", out / f"{stem}-after.png"),
        "errors": [cell for cell in outputs if cell[1] == "error"],
        "widget_errors": widget_errors,
    }


def _failures(result: dict) -> list[str]:
    problems = []
    if result["changed"] <= 0.001:
        problems.append(f"the figure did not change ({100 * result['changed']:.2f} % of pixels)")
    if result["slider"][0] == result["slider"][1]:
        problems.append(f"the slider did not move (still {result['slider'][0]})")
    if result["errors"]:
        problems.append(f"error outputs (cell, type, name): {result['errors']}")
    if result["widget_errors"]:
        problems.append("a widget failed to display")
    return problems


def _copy_notebooks(prefixes: Sequence[str], folder: Path) -> list[str]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = []
    for prefix in prefixes:
        (source,) = sorted((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
        shutil.copy(source, folder / source.name)
        names.append(source.name)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "browser")
    parser.add_argument("--notebooks", nargs="+", default=["01", "05"], metavar="NN")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = _copy_notebooks(args.notebooks, out / "notebooks")
    failed = False
    with (
        jupyter_lab(out / "notebooks", out, out / "jupyter.log") as url,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as profile,
    ):
        context = launch(playwright, profile, 1500)
        try:
            for name in names:
                result = check_notebook(context, url.format(name=name), out)
                problems = _failures(result)
                failed |= bool(problems)
                print(
                    f"{name}: {result['seconds']:.0f} s, slider {result['slider'][0]} -> "
                    f"{result['slider'][1]}, {100 * result['changed']:.1f} % of pixels "
                    f"changed: {'; '.join(problems) or 'ok'}"
                )
        finally:
            context.close()
    print(f"screenshots in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
