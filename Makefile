# pipit: the commands a user and CI type. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
NOSTD_TARGET := thumbv7em-none-eabihf

.PHONY: help run build test test-deps unit integration nostd lint bench footprint clean soak

help:
	@echo "make run        build a release binary and run one broker with defaults"
	@echo "make test       install test clients if missing, then every test CI runs"
	@echo "make nostd      build the storage layer without std or alloc ($(NOSTD_TARGET))"
	@echo "make lint       cargo fmt --check and clippy -D warnings"
	@echo "make bench      benchmarks; results go to BENCHMARKS.md"
	@echo "make soak       long soaks: SOAK_CYCLES=1000 kill -9 and power-cut cycles, CORRUPT_RUNS=1000 damaged data dirs (make test: 20, 50, 50)"
	@echo "make cross BOARD=rpi4   static binary for a board (boards/README.md)"
	@echo "make test-arm   board binaries under qemu-user"
	@echo "make footprint  binary sizes, RSS, start time, write amplification"
	@echo "make fuzz FUZZ_S=30   each fuzz target for FUZZ_S seconds (nightly, cargo-fuzz)"

build:
	$(CARGO) build --release

run: build
	./target/release/pipit broker $(if $(CONFIG),$(CONFIG),) $(ARGS)

# Everything CI runs. test-deps installs Kafka clients (kcat, confluent-kafka,
# kafka-python) the integration tests talk to the broker with; test-arm then
# cross-builds the board binaries and runs them under qemu-user (under CI=true a
# board whose toolchain cannot be had fails). Tests build with the `ci` profile
# (Cargo.toml: release optimizations without LTO, with overflow checks) and run a
# broker built with the power-cut journal (feature powercut-journal, inert unless
# PIPIT_POWERCUT_JOURNAL is set; tests/powercut.rs fails without it); `make build`
# and the boards never have it.
test: test-deps lint nostd
	$(CARGO) build --release
	$(CARGO) test --profile ci --features powercut-journal -- --test-threads=2
	@tools/test-arm.sh

test-deps:
	@tools/test-deps.sh

nostd:
	@tools/nostd.sh $(NOSTD_TARGET)

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features powercut-journal -- -D warnings

bench:
	@tools/bench.sh

# Long crash soaks; `make test` runs the same tests with short counts.
SOAK_CYCLES ?= 1000
CORRUPT_RUNS ?= 1000
soak: test-deps
	PIPIT_SOAK_CYCLES=$(SOAK_CYCLES) $(CARGO) test --profile ci --features powercut-journal --test soak_kill9 -- --nocapture
	PIPIT_SOAK_CYCLES=$(SOAK_CYCLES) $(CARGO) test --profile ci --features powercut-journal --test powercut -- --nocapture --test-threads=1
	PIPIT_CORRUPT_RUNS=$(CORRUPT_RUNS) $(CARGO) test --profile ci --features powercut-journal --test corruption -- --nocapture

clean:
	$(CARGO) clean

# Raspberry Pi boards (boards/README.md). BOARD is one of rpi5 rpi4 rpi3 rpi3-64
# rpi-zero2 rpi-zero2-64 rpi-zero rpi1. A board whose toolchain cannot be had prints
# SKIP and succeeds; STRICT=1 makes it fail.
.PHONY: cross dist test-arm
cross:
	@tools/cross.sh $(BOARD)

dist:
	@tools/dist.sh $(BOARD)

# Storage tests and a broker round trip for aarch64 and armv7 under qemu-user.
test-arm:
	@tools/test-arm.sh

# Binary sizes per target, RSS, start time and write amplification into BENCHMARKS.md.
footprint:
	@tools/footprint.sh

# Fuzz targets (fuzz/, RELIABILITY.md): each runs FUZZ_S seconds, one job at a time, on the
# nightly toolchain; cargo-fuzz is installed if missing. `make test` replays the seed corpus
# and every fixed crash on stable (tests/fuzz_corpus.rs).
FUZZ_S ?= 30
.PHONY: fuzz
fuzz:
	@tools/fuzz.sh run $(FUZZ_S)
