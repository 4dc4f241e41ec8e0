# 掌上办 back-end. `make help` lists the tasks. Everything installs into ./.venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint typecheck check schema bench clean browser
# apt-get needs root: CI and the dev machines run as root; elsewhere sudo is asked for.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

help: ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the service with its dev and test tools

run: $(STAMP) ## start the service on 127.0.0.1:8000 with the embedded database and demo data
	$(BIN)/zsb serve

# The browser tests drive Debian's Chromium (Playwright's own browser downloads are not used),
# with a CJK font so that screenshots show Chinese. Installed once, quietly, when missing.
BROWSER_DEPS := /usr/bin/chromium /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
$(BROWSER_DEPS):
	@echo "installing chromium and fonts-wqy-microhei for the browser tests (apt-get)"
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		chromium fonts-wqy-microhei >/dev/null

browser: $(BROWSER_DEPS) ## install what the browser tests need (chromium, a CJK font)

test: $(STAMP) $(BROWSER_DEPS) ## run lint, type checks and the whole test suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict on the domain packages)
	$(BIN)/mypy .

schema: $(STAMP) ## write graphql/schema.graphql from the code
	$(BIN)/zsb schema > graphql/schema.graphql

bench: $(STAMP) ## run the quick form of every benchmark
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b --quick || exit 1; done

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
