# Two commands do all the set-up: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test qa lint format bench install clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

# Ports: PORTAL_PORT (8000) and SANDBOX_PORT (8765); portal/localenv.py derives every URL from them.
run: $(STAMP)
	@$(BIN)/python -m portal.localenv
	@echo "make run: migrating the database"
	@$(BIN)/python manage.py migrate --noinput -v 0
	@$(BIN)/python manage.py ensure_demo_superuser
	@$(BIN)/python -m portal.devrun

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

qa: lint test

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var
