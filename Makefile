# Entry points for people and CI. `make test` is the test command.
SWIFT ?= swift

.PHONY: build test demo bench deps images

## build: release build of the berth binary (.build/release/berth)
build:
	$(SWIFT) build -c release --static-swift-stdlib

## test: installs what the tests need, then runs the unit, integration and interop tests
## (integration tests drive .build/debug/berth, so it is built first; they need root and start
## the peer Docker daemon themselves)
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
