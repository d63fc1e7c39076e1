# Build, test and run the Go re-implementation of Pushpin's process family.
# Every target works on a fresh Debian machine with only Go installed:
# `deps` installs libzmq (and Debian's pushpin, the interop oracle) when missing.

GO      ?= go
BIN     := bin
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT     := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
# Daemons that have a main package; each builds to bin/<name>.
DAEMONS := $(patsubst %/main.go,%,$(wildcard */main.go))
FUZZTIME ?= 20s

export CGO_ENABLED := 1

EXAMPLE_ADDR ?= 127.0.0.1:7900
# Routes for the quick start: WebSockets go to the example's chat over HTTP,
# everything else to the example backend.
RUN_ROUTES := --route "*,proto=ws $(EXAMPLE_ADDR),over_http" --route "* $(EXAMPLE_ADDR)"

.PHONY: all deps build test test-e2e fuzz bench bench-quick run clean

all: build

deps:
	@if ! pkg-config --exists libzmq 2>/dev/null; then \
		echo "deps: installing libzmq3-dev and pkg-config"; \
		$(APT) update -qq && $(APT) install -y -qq libzmq3-dev pkg-config; \
	fi
	@if ! command -v condure >/dev/null 2>&1 || ! command -v pushpin-proxy >/dev/null 2>&1 \
		|| ! command -v zurl >/dev/null 2>&1; then \
		echo "deps: installing Debian's pushpin (interop oracle)"; \
		$(APT) update -qq && $(APT) install -y -qq pushpin; \
	fi

build: deps
	@mkdir -p $(BIN)
	@for d in $(DAEMONS); do \
		echo "go build -o $(BIN)/$$d ./$$d"; \
		$(GO) build -o $(BIN)/$$d ./$$d || exit 1; \
	done

# Unit and in-process tests, then the multi-process tests that start real binaries.
test: deps build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(MAKE) test-e2e

test-e2e:
	PUSHPIN_GO_BIN=$(CURDIR)/$(BIN) $(GO) test -tags e2e -count=1 -timeout 10m ./test/...

# Each fuzz target for a bounded time (FUZZTIME per target).
fuzz: deps
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# Go benchmarks of the hot paths (codecs, fan-out, per-connection work),
# then the whole stack against Debian's Pushpin 1.36 side by side
# (test/load): results in bench.json and a table. `make bench-quick` runs
# the load tool's quick mode (about two minutes).
BENCHTIME ?= 1s
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	$(GO) run ./test/load/cmd/loadtool --bin $(BIN) --out bench.json

bench-quick: deps build
	$(GO) run ./test/load/cmd/loadtool --quick --bin $(BIN) --out bench.json

# Start the whole stack with deploy/'s default config (clients on :7999,
# publishing on :5561) in front of the example backend. Ctrl-C stops both.
run: build
	$(GO) build -o $(BIN)/example-backend ./examples/backend
	@set -e; \
	$(BIN)/example-backend --addr $(EXAMPLE_ADDR) & backend=$$!; \
	trap 'kill $$backend 2>/dev/null' EXIT INT TERM; \
	$(BIN)/runner --config deploy/pushpin.conf $(RUN_ROUTES)

clean:
	rm -rf $(BIN)
	$(GO) clean -testcache
