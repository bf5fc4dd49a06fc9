"""Build the course website (``make book``): the introduction and the notebooks, offline.

The book's sources are staged in ``OUT/src``: the files of ``book/``, with ``notebooks/``,
``figures/`` and ``README.md`` linked in, so that the notebooks' relative links hold. MathJax 3
is copied into its ``assets/mathjax`` from the npm package (fetched once with ``npm pack``
into ``OUT/npm``), and Jupyter Book 1 turns it into HTML in ``OUT/html``. No notebook is
executed: the pages show the outputs committed with them.

Run ``python book/build.py [--out build/book]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
LINKED = ("notebooks", "figures", "README.md")
MATHJAX = "mathjax@3"
# The bundle Sphinx loads, and the component folders it loads from on demand (fonts, TeX
# extensions named by \require or autoloaded, the menu and its accessibility tools).
MATHJAX_FILES = ("es5/tex-chtml.js",)
MATHJAX_FOLDERS = ("es5/input/", "es5/output/", "es5/ui/", "es5/a11y/", "es5/sre/", "es5/adaptors/")


def stage(source: Path) -> None:
    """Fill ``source`` with the book's own files and links to the notebooks, the figures
    they show and the README (whose sections the software page includes)."""
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(BOOK, source, ignore=shutil.ignore_patterns("build.py", "__pycache__"))
    for name in LINKED:
        (source / name).symlink_to(ROOT / name, target_is_directory=(ROOT / name).is_dir())


def mathjax_package(cache: Path) -> Path:
    """The npm tarball of MathJax 3, packed into ``cache`` on the first call."""
    found = sorted(cache.glob("mathjax-3.*.tgz"))
    if found:
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: install Node.js (Debian: apt-get install npm)")
    subprocess.run([npm, "pack", "--silent", MATHJAX, "--pack-destination", str(cache)], check=True)
    (tarball,) = cache.glob("mathjax-3.*.tgz")
    return tarball


def vendor_mathjax(tarball: Path, target: Path) -> int:
    """Unpack the MathJax bundle and its components into ``target``; return the file count."""
    count = 0
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/")
            wanted = name in MATHJAX_FILES or name.startswith(MATHJAX_FOLDERS)
            if not (member.isfile() and wanted):
                continue
            path = target / name.removeprefix("es5/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.extractfile(member).read())
            count += 1
    if not (target / "tex-chtml.js").is_file():
        raise SystemExit(f"{tarball.name} holds no es5/tex-chtml.js: not a MathJax 3 package")
    return count


def build_html(source: Path, html: Path) -> None:
    """Write Sphinx's ``conf.py`` from the Jupyter Book configuration and build the HTML.

    Any warning (a broken link, a missing include, an unreadable notebook) fails the build.
    """
    jupyter_book = str(Path(sys.executable).with_name("jupyter-book"))
    subprocess.run([jupyter_book, "config", "sphinx", str(source)], check=True)
    shutil.rmtree(html, ignore_errors=True)
    # conf.py names the book's own extension (book/ext) without putting it on sys.path.
    paths = [str(source / "ext"), *filter(None, [os.environ.get("PYTHONPATH")])]
    sphinx = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-E"]
    subprocess.run(
        [*sphinx, str(source), str(html)],
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    started = time.perf_counter()
    stage(out / "src")
    files = vendor_mathjax(mathjax_package(out / "npm"), out / "src" / "assets" / "mathjax")
    build_html(out / "src", out / "html")
    print(
        f"book built in {time.perf_counter() - started:.1f} s ({files} MathJax files vendored): "
        f"{out / 'html' / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
