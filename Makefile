# serialpass build, demo, test and packaging.
SHELL := /bin/bash
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
export CGO_ENABLED ?= 0

.PHONY: build tools system-deps demo test crash package bench clean

build:
	go build $(GOFLAGS_BUILD) -o bin/serialpass ./cmd/serialpass

# Pinned Go tools (AWS's IMDS emulator, nfpm) from the tools module.
tools: bin/ec2-metadata-mock bin/nfpm
bin/ec2-metadata-mock bin/nfpm: tools/go.mod tools/go.sum
	cd tools && go build -o ../bin/ github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock github.com/goreleaser/nfpm/v2/cmd/nfpm

# Debian packages the tests drive, installed when missing (apt-get, root).
system-deps:
	tools/system-deps.sh

demo: build
	go run ./internal/demo

test: system-deps build tools
	go vet ./...
	go test -count=1 -timeout 20m ./...

# Rotate mode's crash-safety test at full strength: SIGKILL at every step
# boundary, 20 times each (make test runs 3 of each). About 30 s to 2 min.
crash: system-deps build tools
	SERIALPASS_CRASH_ITERATIONS=20 go test -count=1 -timeout 15m -run TestRotateCrashSafety ./test/e2e/

# deb and rpm for amd64 and arm64 into dist/ (build.sh stamps a
# Debian/RPM-safe version from git).
package: tools
	packaging/build.sh dist

# Benchmarks (not part of make test): writes bench/RESULTS.md.
bench: build tools
	bench/run.sh

clean:
	rm -rf bin dist
