# The two commands: `make run` (the local stack, one simulated day) and `make test` (everything).
# Both install what they need into the repository first (.venv, infra/node_modules).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY_PINS := moto[server]==5.2.5 boto3 cargo-lambda==1.9.2 cfn-lint==1.51.0
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# moto is started afresh by every integration test: Python must keep the bytecode it compiles
# on first import (pip installs without it, below), or every start compiles moto again (the
# Rust tests took 103 s instead of 79 with PYTHONDONTWRITEBYTECODE set, as it is here).
unexport PYTHONDONTWRITEBYTECODE

# clippy is the compiler of the workspace's own crates in every build here, as `cargo clippy`
# itself arranges it (RUSTC_WORKSPACE_WRAPPER; lints deny-warnings through CLIPPY_ARGS): the
# binaries and the tests are linted as they are built, and the dependencies are compiled once,
# not once more in check mode for a separate clippy pass. `CLIPPY=0` builds with plain rustc.
ifneq ($(CLIPPY),0)
export RUSTC_WORKSPACE_WRAPPER := $(shell rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# Without the driver the builds would pass unlinted: refuse instead.
ifeq ($(RUSTC_WORKSPACE_WRAPPER),)
$(error clippy-driver not found: `rustup component add clippy`, or CLIPPY=0 to build unlinted)
endif
endif

.PHONY: setup build-bins run test test-rust test-later test-infra fuzz-api fmt-check lint check-functions bench bench-peer bench-baseline bench-sdk-call bench-purge bench-labels bench-stock clean

# The venv is made again only when its pins change (not on every edit of this file).
PY_STAMP := $(VENV)/.installed-$(shell echo '$(PY_PINS)' | md5sum | cut -c1-12)

setup: $(PY_STAMP) infra/node_modules/.installed

# --no-compile: Python compiles what it imports on first import instead (the install took 23 s
# less CPU; most of the venv is never imported).
$(PY_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-compile $(PY_PINS)
	touch $@

infra/node_modules/.installed: infra/package.json infra/package-lock.json
	cd infra && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The local stack: moto server + SP-API simulator + order-sync under `cargo lambda watch`.
# Logs: target/local-stack/run/. Last line of output: one JSON summary.
run: setup
	cargo build --quiet --workspace --bins
	cargo run --quiet -p local-stack --bin local-run

fmt-check:
	cargo fmt --all -- --check

# clippy on its own (make test lints while it builds; see RUSTC_WORKSPACE_WRAPPER above).
lint:
	cargo clippy --workspace --all-targets --quiet -- -D warnings

# Each function alone, with only the features of `shared` it turns on: a part it uses but did
# not ask for fails here, not at deploy. Its own feature sets compile the dependencies again (in
# check mode), so CI runs it after `make test` rather than inside it.
check-functions:
	for f in functions/*/; do cargo clippy --quiet -p "$$(basename "$$f")" -- -D warnings; done

build-bins:
	cargo build --quiet --workspace --bins

# Four tests at once on two cores: they wait on moto and the simulator most of the time (the
# suite's run took 64 s instead of 79 to 88 s with nextest's default of one per core).
test-rust: setup build-bins
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --no-fail-fast --test-threads 4; \
	else \
		cargo test --workspace --no-fail-fast; \
	fi

# The Rust tests as if it were 90 days later (LATER=+90d to change): each test process, and
# every process it starts (moto, the simulator, the function binaries), runs under libfaketime
# (Debian's faketime) as cargo's target runner, the monotonic clock left alone. cargo and
# nextest themselves run on the real clock (they hang under libfaketime).
# A faketime wrapper killed before its end (a run stopped by hand or by a timeout) leaves its
# semaphore and shared memory in /dev/shm, named by its pid; with pids reused (pid_max 32768
# here), a later wrapper given that pid cannot start ("sem_open: File exists") and its test
# fails. Those of pids no longer running are removed first.
LATER ?= +90d
HOST_RUNNER_VAR = CARGO_TARGET_$(shell rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')_RUNNER
test-later: setup build-bins
	command -v faketime >/dev/null || { echo "test-later needs faketime (apt-get install faketime)"; exit 1; }
	for f in /dev/shm/sem.faketime_sem_* /dev/shm/faketime_shm_*; do \
		[ -e "$$f" ] || continue; kill -0 "$${f##*_}" 2>/dev/null || rm -f "$$f"; \
	done
	export $(HOST_RUNNER_VAR)="env DONT_FAKE_MONOTONIC=1 faketime -f $(LATER)"; \
	if cargo nextest --version >/dev/null 2>&1; then \
		cargo nextest run --workspace --no-fail-fast; \
	else \
		cargo test --workspace --no-fail-fast; \
	fi

test-infra: setup
	cd infra && npx tsc --noEmit && npm test

# The schema-based fuzz run of the staff API (tests/fuzz/run.py): schemathesis, in a venv of
# its own (its pins and moto's need not agree), against api/openapi.json and the real `api`
# on the local stack, as each role. FUZZ_EXAMPLES (60), FUZZ_SEED, FUZZ_ROLES to change.
FUZZ_VENV := target/fuzz-venv
FUZZ_PINS := schemathesis==4.32.5
FUZZ_STAMP := $(FUZZ_VENV)/.installed-$(shell echo '$(FUZZ_PINS)' | md5sum | cut -c1-12)
$(FUZZ_STAMP):
	python3 -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check --no-compile $(FUZZ_PINS)
	touch $@

fuzz-api: setup build-bins $(FUZZ_STAMP)
	SCHEMATHESIS=$(FUZZ_VENV)/bin/schemathesis FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-60} python3 tests/fuzz/run.py

# Each phase says how long it took, so a slow run shows where its time went.
define timed
@started=$$(date +%s); $(MAKE) --no-print-directory $(1); echo "phase $(1): $$(( $$(date +%s) - started )) s"
endef

test:
	$(call timed,fmt-check)
	$(call timed,setup)
	$(call timed,build-bins)
	$(call timed,test-rust)
	$(call timed,fuzz-api)
	$(call timed,test-infra)

# order-events measured: the release binary cargo-lambda deploys (cold start, CPU per order,
# peak RSS, zip size, AWS calls per order; the wall time per batch and per order as Lambda
# bills it, with every AWS call as it is and slowed by BENCH_AWS_LATENCY_MS, 4 by default) and
# a 1,000-order backlog at Amazon's getOrder plan on a sped-up clock (drain time against the
# quota bound, 429s); then the ratios to the Python peer measured just before it, in the same
# sitting (`make bench-peer`). Last line: one JSON object. BENCH_PEER=0 leaves the peer out.
BENCH_PEER ?= 1
BENCH_BASELINE ?= 1
bench: setup
	cargo lambda build --release -p order-events --bin order-events --output-format zip
	cargo build --quiet -p local-stack --bin bench-order-events
	if [ "$(BENCH_PEER)" != 0 ]; then $(MAKE) --no-print-directory bench-peer; else rm -f target/bench/peer.json; fi
	if [ "$(BENCH_BASELINE)" != 0 ]; then $(MAKE) --no-print-directory bench-baseline; else rm -f target/bench/baseline.json; fi
	PEER_FIGURES=target/bench/peer.json BASELINE_FIGURES=target/bench/baseline.json cargo run --quiet -p local-stack --bin bench-order-events

# The per-order design intake had before it went per batch (issue 17), at its last commit,
# measured by the process part of `make bench` on the same harness, for the ratios in the same
# sitting (BENCH_BASELINE=0 leaves it out). It is that commit as a whole: the ratios hold every
# change since (batching, and also the allocator), not batching alone. Built as it was, without
# this tree's lint wrapper: a later lint must not fail a pinned commit. Built once, release, in a
# worktree under target/. Its figures: target/bench/baseline.json (one JSON object).
BASELINE_COMMIT := 6249433
BASELINE_SRC ?= $(CURDIR)/target/baseline/src
BASELINE_TARGET ?= $(CURDIR)/target/baseline/target
bench-baseline: setup
	git worktree prune
	test -d $(BASELINE_SRC) || git worktree add --detach $(BASELINE_SRC) $(BASELINE_COMMIT)
	test "$$(git -C $(BASELINE_SRC) rev-parse HEAD)" = "$$(git rev-parse $(BASELINE_COMMIT)^{commit})"
	cd $(BASELINE_SRC) && env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS cargo build --quiet --release -p order-events --target-dir $(BASELINE_TARGET)
	cargo build --quiet -p local-stack --bin bench-order-events
	mkdir -p target/bench
	BENCH_ONLY=process BENCH_BINARY=$(BASELINE_TARGET)/release/order-events cargo run --quiet -p local-stack --bin bench-order-events > target/bench/baseline.out
	tail -n 1 target/bench/baseline.out | tee target/bench/baseline.json

# The Python peer of order-events (../shared/peer: the same per-order work with boto3,
# requests and cryptography) in a venv of its own in target/, against moto and the simulator
# as `make bench` runs them. Its figures: target/bench/peer.json (one JSON object).
PEER_VENV := target/peer-venv
PEER_PINS := boto3 requests cryptography
PEER_STAMP := $(PEER_VENV)/.installed-$(shell echo '$(PEER_PINS)' | md5sum | cut -c1-12)
$(PEER_STAMP):
	python3 -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet --disable-pip-version-check $(PEER_PINS)
	touch $@

bench-peer: setup $(PEER_STAMP)
	test -f ../shared/peer/driver.py || { echo "bench-peer needs ../shared/peer beside the repository"; exit 1; }
	cargo build --quiet -p spapi-sim --bin spapi-sim
	mkdir -p target/bench
	$(PEER_VENV)/bin/python ../shared/peer/driver.py --project . --python $(CURDIR)/$(PEER_VENV)/bin/python > target/bench/peer.out
	tail -n 1 target/bench/peer.out | tee target/bench/peer.json

# The floor under the CPU per order: one AWS SDK call (DynamoDB, KMS, SQS) and one plain HTTP
# request, CPU time of the calling thread, release build, against moto. Last line: one JSON object.
bench-sdk-call: setup
	cargo run --quiet --release -p local-stack --bin bench-sdk-call

# pii-redactor's purge throughput: 100,000 due orders (PURGE_BENCH_ORDERS to change) seeded
# into moto, purged by the release binary as one Lambda process. Orders per second, CPU and
# DynamoDB calls per order, peak RSS. Last line: one JSON object.
bench-purge: setup
	cargo lambda build --release -p pii-redactor --bin pii-redactor --output-format zip
	cargo build --quiet -p local-stack --bin bench-purge
	cargo run --quiet -p local-stack --bin bench-purge

# label-worker measured: the release binary (cold start, CPU per label, peak RSS, AWS and
# SP-API calls per label) and 1,000 label jobs at the official Shipping v2 plan (drain time
# against the quota bound, 429s, labels bought twice). The harness is a release build too: its
# four in-process workers must outpace the plan on a clock slowed for moto. Last line: one
# JSON object.
bench-labels: setup
	cargo lambda build --release -p label-worker --bin label-worker --output-format zip
	cargo build --quiet --release -p local-stack --bin bench-labels
	cargo run --quiet --release -p local-stack --bin bench-labels

# stock-sync measured: a reconciliation of 10,000 SKUs × 5 locations by the release binary
# (the JSON_LISTINGS_FEED path at the official plans: wall time against Amazon's processing,
# calls and CPU per SKU, peak RSS, every SKU checked after) and one hot SKU from four workers
# (movements per second, conflicts retried). About 10 minutes after the builds. Last line: one JSON object.
bench-stock: setup
	cargo lambda build --release -p stock-sync --bin stock-sync --output-format zip
	cargo build --quiet --release -p local-stack --bin bench-stock
	cargo run --quiet --release -p local-stack --bin bench-stock

clean:
	rm -rf target/local-stack infra/cdk.out
