# The two set-up commands of the README: `make demo` and `make test` (as root).
BUILD ?= build
ASAN_BUILD ?= build-asan
MAKEFLAGS += --no-print-directory
PYTEST = /usr/bin/python3 -m pytest
SKIFF = $(CURDIR)/$(BUILD)/skiff

.PHONY: all deps build demo test unit pytest vm-test systemd-test asan-test bench bench-systemd fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
	@cmake --build $(BUILD) -j$$(nproc)

# A busybox container that tells about itself: hostname, id, pid 1, its namespaces.
demo: build
	@rm -rf $(BUILD)/demo-bundle
	@scripts/make-bundle.sh $(BUILD)/demo-bundle >/dev/null
	@$(SKIFF) --root $(CURDIR)/$(BUILD)/demo-state run --bundle $(BUILD)/demo-bundle skiff-demo-$$$$

# Everything, against the release build: unit tests, the cgroup v2 tier in a VM, then the
# integration, security, client, fuzz-smoke and benchmark-smoke suites; one closing line.
test: build
	@BUILD=$(CURDIR)/$(BUILD) tests/run_all.py

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j2

pytest: build
	@BUILD=$(CURDIR)/$(BUILD) tests/run_all.py --only integration,security

# The cgroup tests on a pure cgroup v2 kernel, in a throw-away QEMU guest.
vm-test: build
	@tests/vm/test-cgroups-v2.sh

# The systemd cgroup driver with podman and containerd, in a guest that boots systemd.
systemd-test: build
	@tests/vm/test-systemd.sh

bench: build
	@$(MAKE) --no-print-directory -C bench SKIFF=$(SKIFF)

# lifecycle and run with --systemd-cgroup, skiff against crun and runc, in the systemd guest.
bench-systemd: build
	@$(MAKE) --no-print-directory -C bench systemd

# The libFuzzer targets (config parser+validator, CLI), FUZZ_SECONDS each (default 600).
fuzz: deps
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} tests/fuzz/run.sh

# The whole unit and integration suites against an ASan+UBSan build in $(ASAN_BUILD); leaks
# fail the command that leaked (exit 23). `make test` runs the same through
# tests/fuzz/test_sanitized.py.
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0 \
           UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSKIFF_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$$(nproc)
	@cd $(ASAN_BUILD) && $(ASAN_ENV) ./unit_tests --gtest_brief=1 \
	    --gtest_filter=-SeccompFilter.DefaultErrnoWithAllowList
	@$(ASAN_ENV) SKIFF_RUNTIME=$(CURDIR)/$(ASAN_BUILD)/skiff $(PYTEST) -q -p no:cacheprovider \
	    tests/integration

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
