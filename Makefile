# concourse-ci-machine. `make demo` runs the main job, `make test` the tests,
# `make unit` the fast tier of them. `make help` lists every target.
GO          ?= go
BIN         := bin/concourse-ci-machine
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
# The systemd-backed tests start their own private system-mode systemd (PID 1
# of private namespaces); see services/systemdtest. The whole suite must stay under 10 minutes on 2 cores.
TEST_TIMEOUT := 9m

# The fast tier: no root, no systemd. Tests that need root (they mount) sit
# in *_root_test.go files built only without the `unit` tag (see
# internal/mounttest); the packages under services/ drive a real systemd,
# so the tier leaves them out, and so are packages whose every file is a
# root test (with the tag they hold no Go file at all).
UNIT_PKGS = $(shell $(GO) list -tags unit -e -f '{{if or .GoFiles .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | grep -v '/services\(/\|$$\)')

.PHONY: all help build unit test soak bench bench-all demo charm docs lint staticcheck clean

all: build

help:
	@echo 'make build      bin/concourse-ci-machine, stamped with its commit (concourse-ci-machine version)'
	@echo 'make unit       the fast tests: no root, no systemd (under 30 s with a warm build cache)'
	@echo 'make test       lint, then every test as CI runs them (root: mounts, a private systemd)'
	@echo 'make lint       gofmt, go vet, staticcheck $(STATICCHECK_VERSION)'
	@echo 'make bench      the mission figures: install against curl+sha1sum+tar, peak RSS, volume use'
	@echo 'make bench-all  every benchmark of every package'
	@echo 'make docs       regenerate docs/states.md from fsm/'
	@echo 'make demo       3 local units of the real charm share one volume, then upgrade (root: a private systemd)'
	@echo '                ARGS="--units 5 --json" passes flags (concourse-ci-demo -h lists them)'
	@echo 'make soak       10,000 random upgrade schedules with faults, and every schedule of 3 units (long)'
	@echo 'make charm      pack concourse-ci-machine.charm'

# The version and commit `concourse-ci-machine version` prints. The go
# command's own stamp (runtime/debug.ReadBuildInfo) is empty in a git
# worktree and under GOFLAGS=-buildvcs=false, so make sets them itself.
STAMP = -X main.stampedVersion=$(shell git describe --tags --always --dirty 2>/dev/null) \
	-X main.stampedCommit=$(shell git rev-parse HEAD 2>/dev/null)

build:
	$(GO) build -ldflags '$(STAMP)' -o $(BIN) ./cmd/concourse-ci-machine
	$(GO) build -o bin/concourse-ci-demo ./cmd/concourse-ci-demo

unit:
	@echo '$(GO) test -count=1 -tags unit <every package but ./services/...>'
	@$(GO) test -count=1 -tags unit $(UNIT_PKGS)

test: lint
	@if [ -z "$$CONCOURSE_BIN" ] || [ -z "$$PG_URL" ]; then \
		echo 'make test: CONCOURSE_BIN and PG_URL are not both set, so TestDemoAgainstARealConcourse (a real Concourse, end to end) skips'; fi
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# The upgrade protocol's long searches (charm/charmtest): 10,000 random
# schedules with faults and operator actions, and every schedule of an
# upgrade on 3 units (one with its own volume) with up to 2 faults and at
# most 2 switches away from a unit whose hook is ready (a preemption bound:
# unbounded, 3 units do not finish in hours). Progress is logged as it goes.
soak:
	$(GO) test -v -count=1 -timeout 12h -run '^(TestRandomSchedules|TestExhaustiveSchedules)$$' ./charm/charmtest \
		-args -seeds=10000 -explore-units=3 -explore-faults=2 -explore-switches=2

# The mission's figures, each a ratio measured in one run: install against
# curl+sha1sum+tar, peak RSS, volume use, racing units (installer/); an
# upgrade of 10 and 50 units on the model (charm/charmtest); the built
# dispatch's cold start (root: a private systemd).
bench:
	$(GO) test -run '^$$' -bench '^Benchmark(InstallVsCurl|SharedVolume|RacingUnits)$$' -benchtime 1x -count=1 -timeout 20m ./installer
	$(GO) test -run '^$$' -bench '^BenchmarkModelUpgrade$$' -benchtime 1x -count=1 -timeout 20m ./charm/charmtest
	$(GO) test -run '^$$' -bench '^BenchmarkDispatchColdStart$$' -benchtime 1x -count=1 -timeout 20m ./cmd/concourse-ci-machine/dispatchtest

bench-all:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 20m ./...

# The build's lines go to stderr, so that `make demo ARGS=--json` prints
# only the summary on stdout.
demo:
	@$(MAKE) --no-print-directory build >&2
	@echo './bin/concourse-ci-demo $(ARGS)' >&2
	@./bin/concourse-ci-demo $(ARGS)

docs:
	$(GO) run ./cmd/concourse-ci-machine states --format markdown > docs/states.md.tmp
	mv docs/states.md.tmp docs/states.md

# The charm without charmcraft: files derived from charmcraft.yaml, the
# lxd-profile and dispatch (the static binary, CGO off). See tools/charmpack.
charm:
	$(GO) run ./tools/charmpack -o concourse-ci-machine.charm

# staticcheck at the pinned version: installed when missing, reinstalled when
# another version is there (findings differ between versions).
staticcheck:
	@have="$$($(STATICCHECK) -version 2>/dev/null)"; \
	case "$$have" in \
	*"($(STATICCHECK_VERSION:v%=%))"*) ;; \
	*) echo "lint: $(STATICCHECK) is $${have:-not installed}; installing the pinned $(STATICCHECK_VERSION)"; \
	   GOBIN="$(dir $(STATICCHECK))" $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) || \
	   { echo "lint: could not install staticcheck; run: GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)"; exit 1; }; \
	   have="$$($(STATICCHECK) -version 2>/dev/null)"; \
	   case "$$have" in *"($(STATICCHECK_VERSION:v%=%))"*) ;; \
	   *) echo "lint: $(STATICCHECK) still says '$$have', not $(STATICCHECK_VERSION)"; exit 1;; esac;; \
	esac

lint: staticcheck
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags unit ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin
