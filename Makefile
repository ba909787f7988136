# Entry points for people and CI. `make test` is the test command.
SWIFT ?= swift

.PHONY: build test demo bench deps images

## build: release build of berth and of the berth-monitor it starts (.build/release/berth and
## .build/release/berth-monitor; install the two in one directory)
build:
	$(SWIFT) build -c release --static-swift-stdlib

## test: installs what the tests need, then runs the unit, integration and interop tests
## (integration tests drive .build/debug/berth and its berth-monitor, so they are built first; they
## need root and start the peer Docker daemon themselves)
test: deps images
	$(SWIFT) build
	$(SWIFT) test

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
