# pipit: the commands a user and CI type. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
NOSTD_TARGET := thumbv7em-none-eabihf

.PHONY: help run build test test-deps unit integration nostd lint bench footprint clean

help:
	@echo "make run        build a release binary and run one broker with defaults"
	@echo "make test       install test clients if missing, then every test CI runs"
	@echo "make nostd      build the storage layer without std or alloc ($(NOSTD_TARGET))"
	@echo "make lint       cargo fmt --check and clippy -D warnings"
	@echo "make bench      benchmarks; results go to BENCHMARKS.md"

build:
	$(CARGO) build --release

run: build
	./target/release/pipit broker $(if $(CONFIG),$(CONFIG),) $(ARGS)

# Everything CI runs. test-deps installs Kafka clients (kcat, confluent-kafka,
# kafka-python) the integration tests talk to the broker with.
test: test-deps lint nostd
	$(CARGO) build --release
	$(CARGO) test --release -- --test-threads=2

test-deps:
	@tools/test-deps.sh

nostd:
	@tools/nostd.sh $(NOSTD_TARGET)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

bench:
	@tools/bench.sh

clean:
	$(CARGO) clean
