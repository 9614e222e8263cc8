# mproc quick start:  make demo   |   make check
# Everything builds through CMake presets (CMakePresets.json); this file only names the
# common tasks. Each target first runs scripts/bootstrap to install what is missing.

JOBS ?= $(shell nproc)
empty :=
space := $(empty) $(empty)
CTEST_ARGS ?=

.PHONY: all demo check dev asan tsan release valgrind bench fuzz format format-check lint install-test clean

all: dev

bootstrap:
	@scripts/bootstrap

dev: bootstrap
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)

asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

# The examples tour: every example, in the seed's order, narrated.
demo: dev
	@scripts/demo build/dev

# The whole test suite under AddressSanitizer + UBSan, one ctest entry per case.
check: asan
	@ctest --preset asan -j $(JOBS) --no-tests=error $(CTEST_ARGS)

# clang 14's TSan cannot map its shadow when the kernel randomises mmap with more than 28
# bits (vm.mmap_rnd_bits, 32 on some newer kernels): there the suite runs without ASLR.
TSAN_RUN = $(shell [ "$$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ] && echo "setarch $$(uname -m) -R")
tsan:
	@scripts/bootstrap --tsan
	@CC=clang cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)
	@TSAN_OPTIONS=halt_on_error=1 $(TSAN_RUN) ctest --preset tsan -j $(JOBS) --no-tests=error $(CTEST_ARGS)

# The suite under valgrind memcheck, following children and tracking descriptors.
# Cases where valgrind 3.19 (Debian 12) itself cannot do what the case needs, each seen:
#  - SIGALRM every 100 us: valgrind delivers signals late and the storm starves the case;
#  - signal dispositions and masks: valgrind installs and masks its own;
#  - detached spawn: "Unsupported clone() flags" (CLONE_VM|CLONE_VFORK|CLONE_FILES);
#  - rlimits (RLIMIT_NOFILE) and the seccomp close/fcntl filter: valgrind reserves and
#    manipulates descriptors of its own; its loader fails in the exec'd named-queue peers;
#  - SIGALRM storm then the old disposition restored (channel eintr_storm_*, the lock's and
#    semaphore's eintr_neither_extends_nor_ends_the_wait, the queue's
#    signals_do_not_cut_or_stretch_waits): valgrind queues signals the kernel already
#    raised and delivers one after SIG_DFL is back, so the process dies of SIGALRM (seen
#    with --trace-signals=yes; the lock case was seen dying so in a CI run);
#  - bulk copies under a fixed deadline: 1 GiB through a channel (30 s receive) and 64 MiB
#    through cat (50 s) run 10-20x slower under memcheck and time out;
#  - system CPU time: memcheck turns each read() of /dev/zero into user time (it marks the
#    buffer defined), so the child never reaches 300 ms of system time in its 5 s.
VALGRIND_EXCLUDE ?= sigalrm_every_100us|no_signal_disposition_or_mask_is_changed|\.detached_|no_close_or_fcntl_per_descriptor|spawn_sets_rlimits|example_named_between_exec_processes|eintr_storm_during_blocking_|eintr_neither_extends_nor_ends_the_wait|signals_do_not_cut_or_stretch_waits|message_1gib|run_cat_64mib_in_and_out_no_deadlock|wait_reports_sys_cpu_time
VALGRIND_OPTS = --trace-children-skip=/bin/*,/usr/bin/*,/usr/sbin/*,/sbin/*,*/perl,*/python3*,*/node --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --trace-children=yes --track-fds=yes --child-silent-after-fork=yes --quiet
valgrind: bootstrap
	@scripts/bootstrap --valgrind
	@cmake -S . -B build/valgrind -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  "-DMPROC_TEST_WRAPPER=valgrind;$(subst $(space),;,$(VALGRIND_OPTS))" -DMPROC_TEST_TIMEOUT=300 -DMPROC_TEST_TIMEOUT_SCALE=4 >/dev/null
	@cmake --build build/valgrind -j $(JOBS)
	@ctest --test-dir build/valgrind -j $(JOBS) --no-tests=error --output-on-failure -E '$(VALGRIND_EXCLUDE)' $(CTEST_ARGS)

release: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

# mproc and its peers side by side; regenerates docs/BENCHMARKS.md (MPROC_BENCH_QUICK=1: smoke run).
bench:
	@scripts/bootstrap --bench
	@MPROC_BENCH_COMMAND="make bench" bench/run

# libFuzzer on the channel frame decoder and receiver, under ASan+UBSan, for FUZZ_SECONDS.
FUZZ_SECONDS ?= 600
FUZZ_CC ?= clang
FUZZ_SRCS = fuzz/fuzz_chan_frame.c src/channel/*.c src/sys/sys.c src/common/*.c
fuzz:
	@scripts/bootstrap --fuzz
	@mkdir -p build/fuzz fuzz/corpus
	$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -DMPROC_BUILDING -Iinclude -Isrc \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $(FUZZ_SRCS) -o build/fuzz/fuzz_chan_frame
	build/fuzz/fuzz_chan_frame -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	  -artifact_prefix=build/fuzz/ fuzz/corpus

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

format-check:
	@git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror

# Every descriptor is born close-on-exec: reject creating calls without the flag in src/.
lint:
	@scripts/lint

install-test: release
	@scripts/install-test

clean:
	rm -rf build
