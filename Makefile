# quilt-mcp — the commands a newcomer needs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

# Keep the build cache outside the clone so fresh clones (and CI) reuse it.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/quilt-mcp/target
VENV := .venv
CHECKOV_VENV := tests/.tools/checkov-venv
PYTHON ?= python3
DEV_LISTEN ?= 127.0.0.1:8000
# Development only: a fixed secret so `make token` and `make dev` agree.
DEV_SECRET ?= dev-only-secret-change-me-0123456789abcdef

.PHONY: help build release dev token test test-rust conformance deploy-check bench bench-tools lint fmt venv clean prereqs-dev prereqs-test

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## Build everything (debug)
	cargo build --locked --workspace --bins

# The product binary as the container image builds it (the Dockerfile runs this same command;
# tests/deploy/test_dockerfile.py keeps the two in sync).
release: ## Build the release binary the image ships (quilt-mcp-server only)
	cargo build --locked --release -p quilt-mcp-server --bin quilt-mcp-server

dev: prereqs-dev venv ## Run the server on 127.0.0.1:8000 against the built-in AWS emulator, with demo data
	@DEV_LISTEN=$(DEV_LISTEN) DEV_SECRET=$(DEV_SECRET) scripts/dev.sh

token: ## Print a development token for `make dev` (SUBJECT=… to choose the subject)
	@MCP_JWT_SECRET=$(DEV_SECRET) MCP_LISTEN=$(DEV_LISTEN) cargo run --quiet --locked -p quilt-mcp-server -- token --subject $${SUBJECT:-dev-user}

test: prereqs-test venv ## Run every test: Rust unit + integration suites, the README's commands, MCP conformance, deployment checks
	cargo build --locked --workspace --bins
	cargo nextest run --locked --workspace --no-fail-fast
	tests/dev/readme.sh
	tests/conformance/run.sh
	$(MAKE) --no-print-directory deploy-check

test-rust: venv ## Only the Rust suites
	cargo nextest run --locked --workspace --no-fail-fast

# A missing or old tool named up front, with how to get it (scripts/prereqs.sh).
prereqs-dev prereqs-test:
	@scripts/prereqs.sh $(@:prereqs-%=%)

conformance: ## Only the MCP conformance suite (needs `make build`)
	tests/conformance/run.sh

deploy-check: venv $(CHECKOV_VENV)/.installed build ## Check the Dockerfile, Terraform, CloudFormation, CDK and IAM documents (cdk synth, cfn-lint, checkov, invariant, parity and settings tests)
	tests/deploy/run.sh

bench: venv bench-tools ## Benchmarks (Criterion + the perf harness, vs the Python peer); figures go in docs/PERFORMANCE.md
	cargo bench --locked -p quilt-mcp-aws --bench broker
	$(MAKE) --no-print-directory release
	.venv/bin/python tests/perf/buckets.py $(CARGO_TARGET_DIR)/release/quilt-mcp-server
	.venv/bin/python tests/perf/bench.py $(CARGO_TARGET_DIR)/release/quilt-mcp-server $(OHA) $(PEER_VENV)/bin/quilt-mcp

# The load generator (oha, from crates.io) and the Python peer (PyPI quilt-mcp,
# every dependency pinned) in tests/.tools/ (git-ignored); reinstalled only when a pin changes.
OHA_VERSION := 1.16.0
OHA := tests/.tools/bin/oha
PEER_VENV := tests/.tools/peer-venv

bench-tools: tests/.tools/.oha-$(OHA_VERSION) $(PEER_VENV)/.installed ## Install the benchmark's load generator and the Python peer

tests/.tools/.oha-$(OHA_VERSION):
	env -u CARGO_TARGET_DIR cargo install oha --version $(OHA_VERSION) --locked --root tests/.tools
	touch $@

$(PEER_VENV)/.installed: tests/perf/peer-requirements.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/perf/peer-requirements.txt
	touch $@

lint: ## rustfmt check, clippy with warnings as errors, the server's layer rule
	cargo fmt --all -- --check
	cargo clippy --locked --workspace --all-targets -- -D warnings
	python3 scripts/layers.py --self-test

fmt: ## Format the code
	cargo fmt --all

venv: $(VENV)/.installed ## Python tools for the tests (.venv/)

# One resolve for both files, so their pins must agree. checkov is not here: it pins an old
# boto3 and ships its own `hcl2` module, which would clash with moto and python-hcl2; it gets
# its own venv below.
$(VENV)/.installed: tests/python/requirements.txt tests/deploy/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt -r tests/deploy/requirements.txt
	touch $@

$(CHECKOV_VENV)/.installed: tests/deploy/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/deploy/checkov-requirements.txt
	touch $@

clean: ## Remove the venv and node tools, the CDK's node_modules and cdk.out (the cargo cache lives in $(CARGO_TARGET_DIR))
	rm -rf $(VENV) tests/.tools deploy/cdk/node_modules deploy/cdk/cdk.out
