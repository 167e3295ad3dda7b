# The two commands of the README:
#   make run    install what is missing, build, and start sonic-server
#   make test   install what is missing, build, and run every test suite (also under ASan/UBSan)
# Everything else here is a shortcut for developers.

SHELL := /bin/bash
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

RUN_ARGS ?=

.PHONY: run test build build-asan test-release test-asan test-unit test-engine bench format clean

build:
	scripts/setup release

build-asan:
	scripts/setup asan

run: build
	scripts/run-demo $(RUN_ARGS)

test: build test-release build-asan test-asan

test-release:
	ctest --preset release --output-on-failure -j2

test-asan:
	ctest --preset asan --output-on-failure -j2 -LE slow

# One suite alone, e.g. `make test-one T=media_probe_test`.
test-one: build
	ctest --preset release --output-on-failure -R '$(T)'

bench: build
	@for b in build/release/bench/*_bench; do echo "== $$b"; $$b; done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build
