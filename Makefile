# The two set-up commands of the README: `make run` and `make test`. Both (re)create .venv and
# install everything first, including a C compiler (clang >= 16 from apt, or the ziglang wheel).
# The interpreter: the distribution's CPython (/usr/bin/python3) when it is >= 3.11 and can make venvs and has
# its C headers (aot.invoke builds its call extension against them), or can get them (root with apt: see
# python-support); Debian and Ubuntu build it with PGO and LTO: ~13% less CPU a replayed block than a plain
# source build such as pyenv's. Else python3 on PATH. `make test PYTHON=python3.12` picks another one.
HAS_SUPPORT := import ensurepip, os, sys, sysconfig; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))
CAN_APT := [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && \
            { /usr/bin/python3 -c '$(HAS_SUPPORT)' 2>/dev/null || { $(CAN_APT); }; } && echo /usr/bin/python3 || echo python3)
endif
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup python-support test-tools js-deps run test doctor clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required" if sys.version_info < (3, 11) else 0)'
	@$(MAKE) --no-print-directory python-support
	$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m aot.toolchain --install
	touch $(STAMP)

# Debian and Ubuntu ship venv (ensurepip) and Python's C headers in packages of their own: for the system
# interpreter, installed from apt when running as root. Else a missing venv stops the set-up with what to install;
# missing headers only cost speed (aot.invoke's call extension is then not built), so they are named and skipped.
HAS_VENV := import ensurepip
python-support:
	@$(PYTHON) -c '$(HAS_SUPPORT)' 2>/dev/null || { \
	  if [ "$(PYTHON)" = /usr/bin/python3 ] && $(CAN_APT); then \
	    echo "$(PYTHON) lacks venv or its C headers: installing python3-venv and python3-dev with apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-dev; \
	  elif $(PYTHON) -c '$(HAS_VENV)' 2>/dev/null; then \
	    echo "warning: $(PYTHON) has no C headers (Debian/Ubuntu: python3-dev); native calls will be slower"; \
	  else echo "$(PYTHON) cannot make a venv: install python3-venv (Debian/Ubuntu), or run as root"; exit 1; fi; }

# Test-only tools from apt (root): a headless browser for the status-page test.
test-tools:
	@command -v chromium >/dev/null || { \
	  if $(CAN_APT); then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium not installed: the browser test is skipped outside CI"; fi; }

# npm packages of the JS client tests and benchmarks (ethers, viem, solc-js, hardhat, anvil): `npm ci` when
# node_modules is missing or older than package-lock.json. Without npm those tests skip, except under CI=true.
JS := tests/js
js-deps:
	@if ! command -v npm >/dev/null; then \
	  echo "npm not found: the JS client tests (tests/rpc/test_js_clients.py) are skipped (they fail under CI=true)"; \
	elif [ ! -f $(JS)/node_modules/.package-lock.json ] || [ $(JS)/package-lock.json -nt $(JS)/node_modules/.package-lock.json ]; then \
	  npm ci --prefix $(JS) --no-audit --no-fund; \
	fi

run: setup
	$(BIN)/megaeth-node run $(ARGS)

test: setup test-tools js-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

doctor: setup
	$(BIN)/megaeth-node doctor

clean:
	rm -rf $(VENV) build *.egg-info
