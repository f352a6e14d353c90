# Thin wrapper over scripts/setup-deps.sh and meson, the same on every machine.
#   make run    install deps, build, replay the bundled capture through the relay
#   make test   install deps, build normal + sanitizer variants, run every suite
BUILD     ?= build
BUILD_SAN ?= build-san

.PHONY: all deps build build-san run test clean

all: build

deps:
	@sh scripts/setup-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(BUILD_SAN)/build.ninja:
	CC=clang meson setup $(BUILD_SAN) -Dbuildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false -Db_lto=false -Dfuzz=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-san: deps $(BUILD_SAN)/build.ninja
	ninja -C $(BUILD_SAN)

run: build
	sh scripts/run-demo.sh $(BUILD)

test: build build-san
	sh scripts/run-tests.sh $(BUILD) $(BUILD_SAN)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
