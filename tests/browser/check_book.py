"""The course website (``make book``) in a real browser: headless Chromium, offline.

Serve the built book (``build/book/html``) on 127.0.0.1 and visit every page with Debian's
Chromium through Playwright. Every request is routed: one to any other host is refused and
fails the check, so a page that needs the internet (a CDN's script, a web font) fails here.
On each page: no console error and no uncaught exception, no request answered with an error,
MathJax has typeset every formula (an ``mjx-container`` per math element, no TeX error),
every image has loaded (``naturalWidth > 0``), and nothing makes the page wider than the
window (wide outputs scroll in their own box). On the pages with a static explorer
(matplotlib's JavaScript animation) the scrub bar is moved and the frame must change.
Screenshots of two pages go to ``OUT``.

Run with ``make book-test`` (it builds the book and installs Chromium and Playwright when
missing), or ``python tests/browser/check_book.py [--book build/book/html] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from chromium import ROOT, launch
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

SCREENSHOTS = {"intro.html": "book-intro.png", "notebooks/01_fhn_analytics.html": "book-01.png"}
LOCAL_SCHEMES = ("data", "blob", "about")
MATH_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  return {
    math: document.querySelectorAll('.math').length,
    typeset: document.querySelectorAll('.math mjx-container').length,
    errors: document.querySelectorAll('mjx-merror').length,
  };
}"""
IMAGES_JS = """async () => {
  const images = [...document.images];
  for (const image of images) { image.loading = 'eager'; }
  await Promise.all(images.map(image => image.decode().catch(() => null)));
  return images.filter(image => !(image.naturalWidth > 0))
    .map(image => (image.getAttribute('src') || '').slice(0, 80));
}"""
# Elements that load something by themselves when the page opens (not links to follow).
RESOURCES_JS = """() => [
  ...document.querySelectorAll('script[src], img[src], iframe[src], source[src], video[src]'),
  ...[...document.querySelectorAll('link[href]')].filter(link =>
      /stylesheet|preload|icon|modulepreload|prefetch|manifest/.test(link.rel)),
].map(element => element.src || element.href)"""
SCRUB_JS = """async animation => {
  const image = animation.querySelector('img');
  const slider = animation.querySelector('input[type=range]');
  const before = image.src;
  slider.value = slider.max;
  slider.dispatchEvent(new Event('input'));
  slider.dispatchEvent(new Event('change'));
  return {frames: Number(slider.max) + 1, changed: image.src !== before};
}"""


@dataclass
class PageReport:
    """What one page did in the browser."""

    name: str
    requests: int = 0
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    math: dict = field(default_factory=dict)
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    external_resources: list[str] = field(default_factory=list)
    animations: list[dict] = field(default_factory=list)
    overflow: int = 0

    def problems(self) -> list[str]:
        found = []
        if self.outside:
            found.append(f"requests leaving the machine: {self.outside}")
        if self.external_resources:
            found.append(f"resources on other hosts: {self.external_resources}")
        if self.console_errors:
            found.append(f"console errors: {self.console_errors}")
        if self.failed:
            found.append(f"failed requests: {self.failed}")
        if self.math.get("typeset", 0) < self.math.get("math", 0) or self.math.get("errors"):
            found.append(f"math not typeset: {self.math}")
        if self.broken_images:
            found.append(f"images not loaded: {self.broken_images}")
        if self.overflow > 0:
            found.append(f"the page is {self.overflow} px wider than the window")
        found += [
            f"scrub bar did not change the frame: {a}" for a in self.animations if not a["changed"]
        ]
        return found


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging each request (the browser's side counts them)."""

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing."""


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def pages(book: Path) -> list[str]:
    """Every HTML page of the book, relative to its root (the search page included).

    Folders starting with ``_`` hold the theme's templates and the page sources, not pages.
    """
    found = (path.relative_to(book) for path in book.rglob("*.html"))
    return sorted(path.as_posix() for path in found if not path.parts[0].startswith("_"))


def _guard(context: BrowserContext, base: str, report: list[PageReport]) -> None:
    """Let requests to ``base`` through; refuse and record every other one."""
    origin = urlsplit(base).netloc

    def route(route: Route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in LOCAL_SCHEMES or parts.netloc == origin:
            report[-1].requests += 1
            route.continue_()
        else:
            report[-1].outside.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", route)


def _watch(page: Page, report: PageReport) -> None:
    page.on("console", lambda m: m.type == "error" and report.console_errors.append(m.text))
    page.on("pageerror", lambda error: report.console_errors.append(str(error)))
    page.on(
        "response",
        lambda r: r.status >= 400 and report.failed.append(f"{r.status} {r.url}"),
    )
    page.on(
        "requestfailed",
        lambda r: (
            report.failed.append(f"{r.failure} {r.url}") if r.url not in report.outside else None
        ),
    )


def check_page(page: Page, base: str, name: str, report: PageReport, out: Path) -> None:
    """Open one page and fill ``report`` with what it loaded, typeset and showed."""
    page.goto(base + name, wait_until="load")
    page.wait_for_load_state("networkidle")
    report.math = page.evaluate(MATH_JS)
    report.broken_images = page.evaluate(IMAGES_JS)
    report.images = page.evaluate("() => document.images.length")
    origin = base.rstrip("/")
    report.external_resources = [
        url
        for url in page.evaluate(RESOURCES_JS)
        if not url.startswith((origin, *(f"{scheme}:" for scheme in LOCAL_SCHEMES)))
    ]
    report.overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    report.animations = [
        element.evaluate(SCRUB_JS) for element in page.query_selector_all(".animation")
    ]
    page.wait_for_load_state("networkidle")
    if name in SCREENSHOTS:
        page.screenshot(path=out / SCREENSHOTS[name], full_page=True)


def check_book(book: Path, out: Path) -> list[PageReport]:
    """Visit every page of ``book``; return one report per page."""
    # Requests are counted on the last report: the first one holds any made before a page.
    reports: list[PageReport] = [PageReport("(before the first page)")]
    with (
        serve(book) as base,
        sync_playwright() as playwright,
        tempfile.TemporaryDirectory() as profile,
    ):
        context = launch(playwright, profile, 1400)
        try:
            _guard(context, base, reports)
            for name in pages(book):
                reports.append(PageReport(name))
                page = context.new_page()
                _watch(page, reports[-1])
                try:
                    check_page(page, base, name, reports[-1], out)
                finally:
                    page.close()
        finally:
            context.close()
    first = reports[0]
    return reports if first.requests or first.outside else reports[1:]


def summary(reports: Sequence[PageReport]) -> tuple[list[str], bool]:
    """One line per page, and whether every page passed and math was typeset somewhere."""
    lines, ok = [], True
    for report in reports:
        problems = report.problems()
        ok &= not problems
        scrubbed = "".join(f", scrub bar over {a['frames']} frames" for a in report.animations)
        lines.append(
            f"{report.name}: {report.requests} requests, {len(report.outside)} outside, "
            f"{report.math.get('typeset', 0)}/{report.math.get('math', 0)} formulas typeset, "
            f"{report.images - len(report.broken_images)}/{report.images} images{scrubbed}: "
            f"{'; '.join(problems) or 'ok'}"
        )
    typeset = sum(report.math.get("typeset", 0) for report in reports)
    if typeset == 0:
        lines.append("no formula was typeset on any page")
        ok = False
    return lines, ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=ROOT / "build" / "book" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "browser")
    args = parser.parse_args(argv)
    book, out = args.book.resolve(), args.out.resolve()
    if not (book / "index.html").is_file():
        parser.error(f"--book: no index.html in {book}; build the book first (make book)")
    out.mkdir(parents=True, exist_ok=True)
    lines, ok = summary(check_book(book, out))
    print("\n".join(lines))
    print(f"{'ok' if ok else 'FAILED'}; screenshots in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
