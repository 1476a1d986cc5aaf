# The two commands of the README do all their own set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format chromium clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "versement needs Python 3.11 or later ($(PYTHON) is older)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/versement --config config/demo.toml demo

test: $(STAMP) chromium lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The browser tests drive a real headless Chromium; install Debian's when we may.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium not found: the browser tests will be skipped (install chromium)" >&2; fi; }

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# Uploads a 2 GiB SIP to the sandbox over mutual TLS with the client and with curl (baseline),
# same run; prints the client's peak RSS and its throughput ratio. BENCH_TRANSFER_BYTES to change.
.PHONY: bench-transfer
bench-transfer: $(STAMP)
	$(BIN)/python benchmarks/bench_transfer.py
