# Entry points for people and CI. `make test` is the test command.
SWIFT ?= swift
# Release code reaches the metadata of the generic types it uses through their accessors, not by
# mangled name: resolving a mangled name looks up each conformance it needs, a scan of the binary's
# conformance records the first time each is needed, and this flag avoids most of those scans
# (bench/HISTORY.md); set for every module, the dependencies' too.
RELEASE_FLAGS = -c release --static-swift-stdlib \
	-Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors

.PHONY: build test fuzz demo bench deps images

## build: release build of berth and of the berth-monitor and berth-pause it starts
## (.build/release/berth, .build/release/berth-monitor, .build/release/berth-pause; install the
## three in one directory)
build:
	$(SWIFT) build $(RELEASE_FLAGS)

## test: installs what the tests need, then runs the unit, integration and interop tests
## (integration tests drive .build/debug/berth and its berth-monitor, so they are built first; they
## need root and start the peer Docker daemon themselves; the peer registries they start are
## stopped at the end)
test: deps images
	$(SWIFT) build
	status=0; $(SWIFT) test || status=$$?; scripts/peer-registry.sh stop-all; exit $$status

## fuzz: builds the libFuzzer harnesses (fuzz/), replays their corpora and fuzzes each for
## FUZZ_SECONDS (fails on any crash)
FUZZ_SECONDS ?= 30
fuzz:
	fuzz/run.sh $(FUZZ_SECONDS)

## demo: build berth and walk through its commands on the offline base images
demo: deps images
	scripts/demo.sh

## bench: Berth and its peers side by side (not pass/fail)
bench: deps images build
	bench/run.sh

## deps: install the Debian packages everything above needs (root)
deps:
	scripts/install-deps.sh

## images: build the offline base root filesystems into images-cache/
images:
	scripts/make-base-images.sh
