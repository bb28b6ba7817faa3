# UISE: one command runs the system, one runs the tests. Needs Python 3.11+ and make.
PY ?= python3
UV_VERSION ?= 0.13.9
UV := .tools/bin/uv
BIN := .venv/bin

.PHONY: install run stop status test test-unit test-e2e test-faults bench contracts openapi lint clean

$(UV):
	$(PY) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

install: $(UV)  ## the workspace's virtualenv from uv.lock
	$(UV) sync --all-packages --frozen --quiet

run: install  ## the whole system on the embedded default, with the demo; Ctrl-C stops it
	$(BIN)/uise-stack up

stop:
	$(BIN)/uise-stack stop

status:
	$(BIN)/uise-stack status

test: install  ## unit, integration (tansu, moto S3, PostgreSQL, Redis) and e2e
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest -m "not integration and not e2e"

test-e2e: install
	$(BIN)/pytest tests/e2e

# -s: the runs' progress as it happens; the table of counts closes the output either way
test-faults: install  ## services SIGKILLed, the broker killed, S3 and PostgreSQL away 30 s, while submissions flow: nothing lost or doubled (SQLite and PostgreSQL, about 9 minutes on 2 cores)
	$(BIN)/pytest tests/faults -s

# deadline night on a stack of its own (bench/peak.py --help): e.g.
#   make bench BENCH_ARGS="--submissions 400 --database-url postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_ARGS ?= --json var/bench/peak.json
bench: install  ## burst, ceiling, overload and replicas figures (about 10 minutes on 2 cores); JSON in var/bench/
	$(BIN)/python bench/peak.py $(BENCH_ARGS)

contracts: install  ## regenerate contracts/asyncapi.json, contracts/schemas/, the Kafka ACLs and the KEDA triggers from the topic table
	$(BIN)/uise-contracts generate
	$(BIN)/python -m uise_stack.kafka_acls generate
	$(BIN)/python -m uise_stack.k8s_keda generate

openapi: install  ## regenerate docs/openapi/
	$(BIN)/uise-stack openapi

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf var .pytest_cache
