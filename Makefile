# logetl: `make run` starts the whole stack, `make test` runs every test.
SHELL := /bin/bash
# go.mod requires Go 1.27.3 (1.26.8, this machine's own Go, has standard-library vulnerabilities
# that govulncheck reports). With GOTOOLCHAIN=auto the go command uses the machine's Go when it is
# new enough, and otherwise fetches go1.27.3 from the Go module proxy like any module (Go's own
# go.env says local, which would stop with "go.mod requires go >= 1.27.3"). Set GOTOOLCHAIN
# yourself to choose another.
GOTOOLCHAIN ?= auto
export GOTOOLCHAIN
GOBIN := $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)
BIN := bin/logetl
DEV_BIN := bin/logetl-dev
# Go's race detector and test binaries are heavy on 2 cores: one package at a time keeps the
# integration tests' servers from starving each other.
TEST_FLAGS ?= -race -count=1 -timeout 25m -p 2
FUZZTIME ?= 10s
# Minimizing each newly interesting input takes up to 60 s by default, during which a 10 s run
# executes nothing (seen as "0/sec"); short CI runs skip it. A crasher is still saved as found.
FUZZMINIMIZETIME ?= 0s

.PHONY: build run test test-short cover test-rules fuzz vet lint services test-faults bench clean

# bin/logetl is the product; bin/logetl-dev (the local stack of `make run`) is a tool beside it.
build:
	go build -o $(BIN) ./cmd/logetl
	go build -o $(DEV_BIN) ./cmd/logetl-dev

services:
	scripts/services.sh all

run: build
	scripts/services.sh all
	$(DEV_BIN)

# Both tiers and the fault suite: files of the integration tier build only with -tags
# integration, the fault suite's with -tags faults (docs/architecture.md, "Test tiers").
vet:
	go vet ./...
	go vet -tags integration ./...
	go vet -tags faults ./faults

# staticcheck, errcheck and workflowcheck, built at pinned versions (scripts/lint.sh).
lint:
	scripts/lint.sh

# Every test of both tiers: the pure tests and the integration tests (-tags integration), which
# fail, never skip, when a service is missing; the services are installed and started first.
test: services vet test-rules
	go test -tags integration $(TEST_FLAGS) ./...
	# Tests that checkptr (on under -race) cannot run: see internal/parquetlog/damaged_test.go.
	go test -count=1 -run '^TestDamagedFilesGiveErrorsNotPanics$$' ./internal/parquetlog
	$(MAKE) fuzz

# The pure tier: no service, no tag; about a minute on 2 cores.
test-short:
	go test -short ./...

# Coverage of each tier, as a total per tier and a profile in bin/ (go tool cover -html=...).
cover: services
	@mkdir -p bin
	go test -short -count=1 -coverpkg=./... -coverprofile=bin/cover-short.out ./... >/dev/null
	@echo "pure tier (go test -short ./...):        $$(go tool cover -func=bin/cover-short.out | tail -1 | awk '{print $$NF}')"
	go test -tags integration -count=1 -timeout 25m -p 2 -coverpkg=./... -coverprofile=bin/cover-all.out ./... >/dev/null
	@echo "both tiers (go test -tags integration):  $$(go tool cover -func=bin/cover-all.out | tail -1 | awk '{print $$NF}')"

# Prometheus's own checks of deploy/prometheus: the config and its rules load, and every alert's
# unit tests (alerts_test.yml) pass. promtool comes with Debian's prometheus package.
test-rules:
	scripts/services.sh prometheus
	promtool check config deploy/prometheus/prometheus.yml
	promtool test rules deploy/prometheus/alerts_test.yml

# Each fuzz target runs briefly from its seed corpus; a crash fails the build.
fuzz:
	@set -e; for t in $$(scripts/fuzz-targets.sh); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		go test -tags integration -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg; \
	done

clean:
	rm -rf bin

.PHONY: smoke
# The stack as `make run` starts it, on free ports and a temporary data folder: waits for the
# first daily and weekly exports, checks them as the README does (list, DuckDB = MySQL counts,
# verify, decrypt, Temporal UI and schedules), then stops it. Non-zero exit on any failure.
smoke: build
	scripts/smoke.sh

# Benchmarks (docs/benchmarks.md): extract limit, export to versitygw, peak memory, bytes per row
# against the old format, purge against a bare DELETE, API against raw transactions, for
# activity_log and a wide table, in one run of about 7 minutes on 2
# cores. BENCH_FLAGS adds flags, e.g. BENCH_FLAGS='--rows 100000' for a quick run or
# '--reuse-db' to keep the loaded data for the next run.
# The bench is its own program (cmd/logetl-bench), outside the logetl binary.
BENCH_FLAGS ?=
bench:
	go build -o bin/logetl-bench ./cmd/logetl-bench
	scripts/services.sh mariadb
	@# The bench needs versitygw only (not the Temporal CLI that `tools` also builds).
	@command -v versitygw >/dev/null || scripts/services.sh tools
	bin/logetl-bench --rows 1000000 --json bin/bench.json $(BENCH_FLAGS)

.PHONY: test-faults vulncheck
# Faults injected into the real stack, each audited id by id (MySQL against the Parquet files):
# kill -9 of the worker mid-upload, S3 down, MariaDB restarted mid-extract and under API load, a
# backfill racing the schedule, late commits, retention under kills and restarts, gaps healed by
# the compaction, 56 years backfilled in bounded memory, the lag alert firing and resolving in a
# real Prometheus; then a search of every log line and object for secrets. It restarts the
# machine's MariaDB: run it on its own. See docs/reliability.md.
test-faults:
	scripts/test-faults.sh

# govulncheck (built at a pinned version from the Go module proxy) over ./...; exits 4 with a
# clear message when the vulnerability database is unreachable (LOGETL_VULNDB: mirror or file://).
vulncheck:
	scripts/vulncheck.sh
