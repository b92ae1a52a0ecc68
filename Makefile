# rtcchat — one entry point for building, testing, benchmarking and fuzzing.
GO      ?= go
BIN     ?= bin/rtcchat
FUZZTIME ?= 30s
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-short bench fuzz faults demo vet fmt cross clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/rtcchat

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# Cross-compilation check: the whole module must build for Windows and macOS.
cross:
	GOOS=windows GOARCH=amd64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...

# The one test entry: vet, cross builds, the race-enabled test suite, and a short run
# of every fuzz target.
test: vet cross
	$(GO) test -race -timeout 20m ./...
	FUZZTIME=2s FUZZPARALLEL=2 scripts/fuzz.sh

test-short:
	$(GO) test -short ./...

bench:
	scripts/bench.sh

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# The fault tests (root) with the 16 MiB file in every condition, 30% loss
# included, which make test runs with 1 MiB (see faults.TestPacketLoss).
faults:
	RTCCHAT_FAULTS_FULL=1 $(GO) test -race -timeout 90m -v ./faults/

demo: build
	$(BIN) demo

clean:
	rm -rf bin bench.json
