# Every workflow of the course has a target here; `make` alone lists them.
# Targets that need the Python environment depend on `install`, so each works from a fresh clone.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# `make test` runs the tests on this many pytest-xdist workers (auto: one per core); the slowest
# units start first (grader_tests/conftest.py), the ten slowest tests are listed at the end.
TEST_WORKERS ?= auto
# nbgrader runs `alembic` from PATH when it creates a gradebook: use this environment's.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install browser lab release test lint format demo bench attacks mutants weights clean

help: ## list the targets
	@echo "Neural Networks from Scratch - make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install the course package with its test tools

$(STAMP): pyproject.toml
	@# the grader's sandbox: bubblewrap, from the system's packages (installed when we are root)
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null); } \
	  || echo "note: install bubblewrap (apt-get install bubblewrap) for the grader's sandbox"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed; set PYTHON=python3.11 (or newer)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@# the python3 kernel of this environment, preferred over any user-wide one by Jupyter
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (course)"
	@# compiled once here: every grading server and `course check` imports the package
	$(BIN)/python -m compileall -q course
	@touch $(STAMP)

browser: ## Debian's chromium, which the browser test drives (installed when run as root)
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null); } \
	  || echo "note: install chromium (apt-get install chromium) for grader_tests/test_browser.py"

lab: install ## open JupyterLab on release/ with the course's environment as the kernel
	$(BIN)/jupyter lab --notebook-dir=release $(if $(filter 0,$(shell id -u)),--allow-root)

release: install ## regenerate release/ from source/ (nbgrader generate_assignment)
	$(BIN)/course release

test: install browser ## run the test suite (slow tests included), on TEST_WORKERS processes
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder grader_tests

lint: install ## check style with ruff, and the grader's layers with import-linter
	$(BIN)/ruff check course grader_tests
	$(BIN)/ruff format --check course grader_tests
	$(BIN)/lint-imports --no-cache

format: install ## reformat the code with ruff
	$(BIN)/ruff check --fix course grader_tests
	$(BIN)/ruff format course grader_tests

demo: install ## release, autograde a sample class, print the scores, write reports, similarity pages and the Canvas file
	$(BIN)/python -m course.grading.demo

bench: install ## time course autograde against nbgrader autograde on the same classes
	$(BIN)/python grader_tests/bench_autograde.py

attacks: install ## run the attack suite against course autograde and plain nbgrader
	$(BIN)/python grader_tests/attacks.py

mutants: install ## grade the mutation catalog (ARGS="week1 --show-messages" to narrow and explain)
	$(BIN)/python grader_tests/mutants.py $(ARGS)

weights: install ## retrain week 1's pre-trained digit weights (course/data/)
	$(BIN)/python grader_tests/test_datasets.py --write

clean: ## remove what grading and testing wrote (keeps .venv; `rm -rf .venv` for that)
	rm -rf submitted feedback reports artifacts gradebook.db .pytest_cache .ruff_cache
	find autograded -mindepth 1 ! -name README.md -exec rm -rf {} +
	find . -name __pycache__ -not -path './$(VENV)/*' -exec rm -rf {} +
