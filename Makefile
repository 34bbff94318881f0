# concourse-ci-machine. `make demo` runs the main job, `make test` the tests.
GO          ?= go
BIN         := bin/concourse-ci-machine
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck
STATICCHECK_VERSION := v0.8.2
# The systemd-backed tests start their own private system-mode systemd (PID 1
# of private namespaces); see services/systemdtest. The whole suite must stay under 10 minutes on 2 cores.
TEST_TIMEOUT := 9m

.PHONY: all build test bench demo charm docs lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/concourse-ci-machine

test: lint
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 20m ./...

demo: build
	./$(BIN) demo

docs:
	$(GO) run ./cmd/concourse-ci-machine states --format markdown > docs/states.md.tmp
	mv docs/states.md.tmp docs/states.md

# The charm without charmcraft: files derived from charmcraft.yaml, the
# lxd-profile and dispatch (the static binary, CGO off). See tools/charmpack.
charm:
	$(GO) run ./tools/charmpack -o concourse-ci-machine.charm

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin
