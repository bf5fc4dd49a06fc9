# Two commands do everything on a fresh machine with Python 3.11:
#   make reproduce   -- regenerate every notebook, figure and number, then the paper
#                       (RETRAIN=1: train every network anew into build/retrain/ and compare)
#   make test        -- ruff, unit tests, and nbval over the committed notebooks
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
ENSEMBLE_STAMP := $(VENV)/.ensemble-stamp
# PyTorch, from PyTorch's own wheel index with the public index as the extra one: by default
# the CPU build (a plain `torch` from the public index is, on Linux, a CUDA build with several
# GB of GPU libraries). TORCH_INDEX selects another of PyTorch's indexes, a CUDA build with
# `make setup TORCH_INDEX=cu128` on a fresh .venv. Where PyTorch's index cannot be reached,
# pip retries for about ten seconds, then takes torch from what else it is configured with
# (a local wheel directory, a mirror). `make torch-check` prints which build it would be.
TORCH_PIN := torch==2.13.0
TORCH_INDEX ?= cpu
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/$(TORCH_INDEX)
PUBLIC_INDEX_URL ?= https://pypi.org/simple
TORCH_SOURCES = --index-url $(TORCH_INDEX_URL) --extra-index-url $(PUBLIC_INDEX_URL)
# Every other package comes from a lock file with hashes (`make lock` rewrites them from
# pyproject.toml): the test environment, and the test environment plus the [book] extra.
TEST_LOCK := requirements/test.lock
BOOK_LOCK := requirements/book.lock
BOOK_STAMP := $(VENV)/.book-stamp
NBVAL_OUT := build/nbval-outputs
# Idle OpenMP threads sleep instead of spinning. It changes no number (the work is split as
# before) but on a busy machine it makes two-thread training ~20x faster: a spinning thread
# holds the core its partner waits for.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: setup test unit nbval nbval-portable lint reproduce quick paper clean bench bench-reproduce \
	browser-test ensemble bench-ensemble bench-piecewise bench-exact setup-book torch-check lock

setup: $(STAMP)

# The locked packages first (torch's own dependencies among them), then torch, then the package
# itself without dependencies; `pip check` stops here if the lock and pyproject.toml disagree.
$(STAMP): pyproject.toml $(TEST_LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 not found: set PYTHON=/path/to/python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(PY) -m pip install --quiet $(TORCH_SOURCES) $(TORCH_PIN)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

# The book's packages (the [book] extra) at the versions of their lock file.
setup-book: $(BOOK_STAMP)

$(BOOK_STAMP): $(STAMP) $(BOOK_LOCK)
	$(PY) -m pip install --quiet --require-hashes -r $(BOOK_LOCK)
	touch $@

# The torch build that `make setup` would install, resolved without this machine's pip
# settings (no local wheel directory, no other index) and without installing anything.
torch-check:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) requirements/check_torch_build.py $(TORCH_SOURCES) $(TORCH_PIN)

# Rewrite both lock files from pyproject.toml with uv, for Python 3.11 and up on every platform,
# from a venv of their own (a stale lock must not stop its own rewrite). Torch itself is left
# out (make setup installs it from TORCH_INDEX_URL); its dependencies are those of the CPU
# build, whose wheel pip fetches as make setup does. The test lock takes the book lock's
# versions, so that adding the book to a test environment changes nothing.
UV_REQUIREMENT := uv>=0.9,<1
LOCK_VENV := build/lock-venv
LOCK_TORCH := build/lock-torch
UV_COMPILE = $(LOCK_VENV)/bin/uv pip compile pyproject.toml --quiet --universal \
	--python-version 3.11 --generate-hashes --index-url $(PUBLIC_INDEX_URL) \
	--find-links $(LOCK_TORCH) --constraint $(LOCK_TORCH)/constraints.txt \
	--no-emit-package torch --custom-compile-command "make lock"

lock:
	test -x $(LOCK_VENV)/bin/python || $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet '$(UV_REQUIREMENT)'
	rm -rf $(LOCK_TORCH)
	$(LOCK_VENV)/bin/python -m pip download --quiet --no-deps --dest $(LOCK_TORCH) \
		--index-url https://download.pytorch.org/whl/cpu --extra-index-url $(PUBLIC_INDEX_URL) \
		$(TORCH_PIN)
	echo "$(TORCH_PIN)+cpu" > $(LOCK_TORCH)/constraints.txt
	$(UV_COMPILE) --extra test --extra book --output-file $(BOOK_LOCK)
	$(UV_COMPILE) --extra test --constraint $(BOOK_LOCK) --output-file $(TEST_LOCK)

lint: $(STAMP)
	$(VENV)/bin/ruff check fhnrnn tests benchmarks notebooks

unit: $(STAMP)
	$(PY) -m pytest tests

# nbval re-executes each committed notebook from the shipped networks and compares its
# outputs. Figures and numbers it writes go to a scratch folder, never over the paper's own
# files; FHNRNN_HEADLESS=1 keeps the explorers from waiting on a widget.
NBVAL_RUN = FHNRNN_HEADLESS=1 FHNRNN_OUTPUT_ROOT=$(abspath $(NBVAL_OUT)) $(PY) -m pytest \
	-p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
	notebooks

nbval: $(STAMP)
	rm -rf $(NBVAL_OUT)
	$(NBVAL_RUN)

# The same check as another machine would run it: torch's generic (non-vectorised) kernels,
# MKL's vendor-neutral code path (other matmul bits) and one thread. A committed output that
# depends on the CPU, the BLAS kernels or the thread count fails here.
nbval-portable: $(STAMP)
	rm -rf $(NBVAL_OUT)
	ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1 $(NBVAL_RUN)

test: lint unit nbval

reproduce: $(STAMP)
	$(PY) -m fhnrnn reproduce $(if $(RETRAIN),--retrain)
	$(if $(RETRAIN),,$(MAKE) paper)

quick: $(STAMP)
	$(PY) -m fhnrnn reproduce --quick

# The Debian TeX packages that paper/main.tex needs, installed when latexmk is missing.
TEX_PACKAGES := latexmk texlive-latex-base texlive-latex-recommended texlive-latex-extra \
	texlive-fonts-recommended

paper:
	@command -v latexmk >/dev/null || { apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends $(TEX_PACKAGES); }
	$(MAKE) -C paper

# The explorers in a real browser: JupyterLab on 127.0.0.1 driven by Debian's headless
# Chromium through Playwright (no browser download); screenshots in build/browser/.
BROWSER_STAMP := $(VENV)/.browser-stamp

$(BROWSER_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,browser]'
	touch $@

browser-test: $(BROWSER_STAMP)
	@command -v chromium >/dev/null || { apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends chromium; }
	$(PY) tests/browser/check_explorers.py --out build/browser

# The course website: the introduction and the notebooks with their committed outputs (nothing
# is executed), built by Jupyter Book 1 into build/book/html. It needs no internet but the
# package registries: MathJax comes from npm (Debian's npm installed when missing), not a CDN.
.PHONY: book book-test

book: $(BOOK_STAMP)
	@command -v npm >/dev/null || { apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends npm; }
	$(PY) book/build.py --out build/book

# The book in headless Chromium: every page with no console error, no request leaving
# 127.0.0.1, its math typeset and its images loaded; screenshots in build/browser/.
book-test: book $(BROWSER_STAMP)
	@command -v chromium >/dev/null || { apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends chromium; }
	$(PY) tests/browser/check_book.py --book build/book/html --out build/browser

# The fixed-point engine against FixedPointFinder (a few minutes), the activation-region
# search's coverage (two minutes), and the whole regeneration cold and warm (~10 min).
bench: $(STAMP)
	$(PY) benchmarks/bench_fixedpoints.py

bench-piecewise: $(STAMP)
	$(PY) benchmarks/bench_piecewise.py

bench-exact: $(STAMP)
	cd benchmarks && ../$(PY) bench_exact.py

bench-reproduce: $(STAMP)
	$(PY) benchmarks/bench_reproduce.py --json build/bench_reproduce.json

bench-ensemble: $(ENSEMBLE_STAMP)
	$(PY) benchmarks/bench_ensemble.py --json build/bench_ensemble.json

clean:
	rm -rf build .pytest_cache .ruff_cache

# The ensemble study on Snakemake: 130 runs (13 arms x 10 seeds), each trained on one core and
# shipped in artifacts/ensemble/, then measured. With the shipped networks the sweep only
# measures, into build/ensemble by default (the shipped results in results/ensemble are left
# alone); ENSEMBLE_OUT=results/ensemble refreshes those. RETRAIN=1 trains every network anew
# into build/retrain/ensemble/networks, measures those, and compares them with the shipped
# ones. CORES sets the parallel jobs; `make ensemble DRY=1` lists the jobs without running
# them. A killed sweep resumes. After a measurement of the shipped networks into another folder,
# the table is compared with the shipped one (`ensemble compare-tables`: every cell within a
# relative 1e-4, the timings left out).
CORES ?= 2
ENSEMBLE_OUT ?= $(if $(RETRAIN),build/retrain/ensemble,build/ensemble)
ENSEMBLE_NETWORKS ?= $(if $(RETRAIN),build/retrain/ensemble/networks,artifacts/ensemble)

$(ENSEMBLE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,ensemble]'
	touch $@

ensemble: $(ENSEMBLE_STAMP)
	$(VENV)/bin/snakemake -s workflow/Snakefile --profile workflow/profiles/local \
		--cores $(CORES) --config out=$(ENSEMBLE_OUT) networks=$(ENSEMBLE_NETWORKS) $(if $(DRY),-n)
	$(if $(and $(RETRAIN),$(if $(DRY),,1)),$(PY) -m fhnrnn ensemble compare --networks-dir $(ENSEMBLE_NETWORKS))
	$(if $(or $(RETRAIN),$(DRY),$(filter results/ensemble,$(ENSEMBLE_OUT))),,$(PY) -m fhnrnn ensemble compare-tables --reference results/ensemble --table $(ENSEMBLE_OUT))
