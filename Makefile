# The two set-up commands of the README: `make demo` and `make test` (as root).
BUILD ?= build
ASAN_BUILD ?= build-asan
MAKEFLAGS += --no-print-directory
PYTEST = /usr/bin/python3 -m pytest
SKIFF = $(CURDIR)/$(BUILD)/skiff

# Where `make install` puts skiff (runc's layout). DESTDIR is prepended to every path, and
# the installed files name the paths without it.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DOCDIR ?= $(PREFIX)/share/doc/skiff
# The systemd driver's D-Bus companion; skiff looks for it in ../libexec/skiff beside itself.
LIBEXECDIR ?= $(PREFIX)/libexec/skiff
# podman reads drop-ins from /etc/containers/containers.conf.d only, whatever the PREFIX.
SYSCONFDIR ?= /etc
PODMAN_DROPIN = $(SYSCONFDIR)/containers/containers.conf.d/50-skiff.conf
CONTAINERD_DOCS = README.md skiff-runtime.toml runtimeclass.yaml

.PHONY: all deps build compile demo test unit pytest vm-test systemd-test criu-test asan-test bench \
        bench-systemd bench-vm fuzz clean install install-files uninstall deb

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
	@cmake --build $(BUILD) -j$$(nproc)

# Only what `make install` needs: the binary, the man pages and the completion.
compile:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
	@cmake --build $(BUILD) -j$$(nproc) --target skiff skiff-systemd docs

install: compile
	@$(MAKE) install-files

# Copies from an existing build ($(BUILD)); debian/rules calls this after its own CMake build.
# The podman drop-in and the containerd snippet name the installed binary.
install-files:
	install -D -m 0755 $(BUILD)/skiff $(DESTDIR)$(BINDIR)/skiff
	install -D -m 0755 $(BUILD)/skiff-systemd $(DESTDIR)$(LIBEXECDIR)/skiff-systemd
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(BUILD)/man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 $(BUILD)/completion/skiff $(DESTDIR)$(BASHCOMPDIR)/skiff
	install -d $(DESTDIR)$(dir $(PODMAN_DROPIN))
	scripts/name-installed-binary.sh podman $(BINDIR)/skiff < contrib/podman/50-skiff.conf \
	    > $(DESTDIR)$(PODMAN_DROPIN)
	chmod 0644 $(DESTDIR)$(PODMAN_DROPIN)
	install -d $(DESTDIR)$(DOCDIR)/containerd
	for f in $(CONTAINERD_DOCS); do \
	    scripts/name-installed-binary.sh containerd $(BINDIR)/skiff < contrib/containerd/$$f \
	        > $(DESTDIR)$(DOCDIR)/containerd/$$f && chmod 0644 $(DESTDIR)$(DOCDIR)/containerd/$$f || exit 1; \
	done

# Removes what install-files installs (the man pages by the names this build generated), and
# skiff's own doc directories; directories shared with other software stay. Builds nothing.
uninstall:
	@[ -d $(BUILD)/man ] || { echo "uninstall: no $(BUILD)/man (the man page names): make build first" >&2; exit 1; }
	rm -f $(DESTDIR)$(BINDIR)/skiff $(DESTDIR)$(BASHCOMPDIR)/skiff $(DESTDIR)$(PODMAN_DROPIN)
	rm -f $(DESTDIR)$(LIBEXECDIR)/skiff-systemd
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null
	for f in $(BUILD)/man/*.8; do rm -f "$(DESTDIR)$(MANDIR)/man8/$${f##*/}"; done
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/containerd/,$(CONTAINERD_DOCS))
	-rmdir $(DESTDIR)$(DOCDIR)/containerd $(DESTDIR)$(DOCDIR) 2>/dev/null

# The Debian package, built by dpkg-buildpackage from a copy of this tree (tracked and new
# files, not build dirs) in $(BUILD)/deb, where the .deb lands. With SKIFF_PREBUILT=<absolute
# build dir> in the environment, debian/rules packages that build instead of compiling.
DEB_DIR = $(abspath $(BUILD))/deb
deb: deps
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/skiff
	git ls-files -z --cached --others --exclude-standard | \
	    xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
	    tar -c --null -T - | tar -x -C $(DEB_DIR)/skiff
	cd $(DEB_DIR)/skiff && SKIFF_COMMIT=$$(git -C $(CURDIR) describe --always --dirty --abbrev=12) \
	    DEB_BUILD_OPTIONS="parallel=$$(nproc) $$DEB_BUILD_OPTIONS" dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

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

# The systemd cgroup driver with podman, containerd and docker, in a guest that boots systemd.
systemd-test: build
	@tests/vm/test-systemd.sh

# checkpoint/restore with CRIU, in a guest whose kernel CRIU supports.
criu-test: build
	@tests/vm/test-criu.sh

bench: build
	@$(MAKE) --no-print-directory -C bench SKIFF=$(SKIFF)

# lifecycle and run with --systemd-cgroup, skiff against crun and runc, in the systemd guest.
bench-systemd: build
	@$(MAKE) --no-print-directory -C bench systemd

# VM isolation: a VM-isolated run of /bin/true against a bare QEMU boot of the same kernel.
bench-vm: build
	@SKIFF=$(SKIFF) bench/vm.sh --rounds $${ROUNDS:-5}

# The libFuzzer targets (config parser+validator, CLI), FUZZ_SECONDS each (default 600).
fuzz: deps
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} tests/fuzz/run.sh

# The whole unit and integration suites against an ASan+UBSan build in $(ASAN_BUILD); leaks
# fail the command that leaked (exit 23). `make test` runs the unit tests and a subset of the
# integration tests the same way through tests/fuzz/test_sanitized.py (same build, same options).
ASAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0:malloc_context_size=8 \
           UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
asan-test: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSKIFF_SANITIZE=ON -DCMAKE_UNITY_BUILD=ON \
	    "-DCMAKE_CXX_FLAGS_DEBUG=-g1" "-DCMAKE_C_FLAGS_DEBUG=-g1" >/dev/null
	@cmake --build $(ASAN_BUILD) -j$$(nproc) --target skiff unit_tests
	@cd $(ASAN_BUILD) && $(ASAN_ENV) ./unit_tests --gtest_brief=1 \
	    --gtest_filter=-SeccompFilter.DefaultErrnoWithAllowList
	@$(ASAN_ENV) SKIFF_RUNTIME=$(CURDIR)/$(ASAN_BUILD)/skiff $(PYTEST) -q -p no:cacheprovider \
	    tests/integration

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
