# Two commands for a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
VENDOR := service/static/vendor
ASSETS := $(VENDOR)/.installed-$(shell cat frontend/package-lock.json | cksum | cut -d' ' -f1)
CHROMIUM := /usr/bin/chromium

.PHONY: demo test check fmt install assets browser native native-if-needed clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP) $(ASSETS) native-if-needed

# PyVRP's C++ built for this machine (clang, -march=native, profile-guided): the
# same search as the wheel, checked step for step, about a fifth faster. Needs
# apt packages and ~4 minutes once; on failure the wheel stays (see the script).
native-if-needed: $(STAMP)
	-$(BIN)/python deploy/native_pyvrp.py --if-needed

native: $(STAMP)
	$(BIN)/python deploy/native_pyvrp.py --force

# Map, chart and accessibility libraries come from the npm registry, never a CDN.
$(ASSETS): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/images
	cp frontend/node_modules/leaflet/dist/leaflet.js frontend/node_modules/leaflet/dist/leaflet.css $(VENDOR)/
	cp frontend/node_modules/leaflet/dist/images/* $(VENDOR)/images/
	cp frontend/node_modules/uplot/dist/uPlot.iife.min.js frontend/node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	cp frontend/node_modules/axe-core/axe.min.js $(VENDOR)/
	touch $(ASSETS)

assets: $(ASSETS)

# Browser tests drive Debian's chromium (playwright never downloads a browser).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(CHROMIUM)

demo: $(STAMP) $(ASSETS)
	$(BIN)/recoop demo

test: $(STAMP) $(ASSETS) $(CHROMIUM) native-if-needed
	$(BIN)/python -m pytest -q

check: $(STAMP) $(ASSETS) native-if-needed
	$(BIN)/ruff check .
	$(BIN)/mypy service webhooks routes_planner
	$(BIN)/python -m pytest -q

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(VENDOR) frontend/node_modules recoop.db recoop.db-wal recoop.db-shm
