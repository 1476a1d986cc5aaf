# The two commands of the README do all their own set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format chromium clean bench-synthetic bench-browser bench-validate bench-extract bench-package

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "versement needs Python 3.11 or later ($(PYTHON) is older)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/versement --config config/demo.toml demo

# Two pytest workers (TEST_WORKERS=1 for one): most tests wait on servers and subprocesses; the
# Airflow ones share a group and run one at a time (tests/conftest.py).
TEST_WORKERS ?= 2
test: $(STAMP) chromium lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Benchmark (not part of make test): Parquet -> validated SIP(s) for 100,000 person files.
bench-package: $(STAMP)
	$(BIN)/python benchmarks/bench_package.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# A benchmark, not a test: a synthetic Apogée of 1 and 5 million RESULTAT_ELP rows in the local PostgreSQL.
bench-synthetic: $(STAMP)
	$(BIN)/python -m extractors.synthetic.bench
# Quality gate on 1M and 5M ELP-results rows, each validated in its own subprocess (time, peak RSS).
bench-validate: $(STAMP)
	$(BIN)/python benchmarks/bench_validate.py
# Extraction throughput and memory against the raw COPY floor and pandas (local PostgreSQL).
bench-extract: $(STAMP)
	$(BIN)/python benchmarks/bench_extract.py

# The browser tests drive a real headless Chromium; install Debian's when we may.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium not found: the browser tests will be skipped (install chromium)" >&2; fi; }

# The browser's pages alone and under 50 concurrent users, over a 1-million-row dataset
# (BENCH_ROWS, BENCH_USERS to change); the last line is one JSON object.
bench-browser: $(STAMP)
	$(BIN)/python benchmarks/bench_browser.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# Uploads a 2 GiB SIP to the sandbox over mutual TLS with the client and with curl (baseline),
# same run; prints the client's peak RSS and its throughput ratio. BENCH_TRANSFER_BYTES to change.
.PHONY: bench-transfer
bench-transfer: $(STAMP)
	$(BIN)/python benchmarks/bench_transfer.py
