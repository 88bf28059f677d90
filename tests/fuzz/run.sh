#!/bin/sh
# Builds the libFuzzer targets with clang and runs each for FUZZ_SECONDS (default 600) on a
# scratch copy of the seed corpus (the repo's corpus stays small). Exits non-zero on the
# first crash, leak, timeout or out-of-memory; the reproducer is left in $FUZZ_OUT.
#   FUZZ_SECONDS=20 FUZZ_TARGETS="config cli" tests/fuzz/run.sh
#   FUZZ_BUILD_ONLY=1 tests/fuzz/run.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD:-$repo/build-fuzz}
seconds=${FUZZ_SECONDS:-600}
targets=${FUZZ_TARGETS:-config cli}
out=${FUZZ_OUT:-$build/runs}

cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j2 >/dev/null
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0
case $seconds in ''|*[!0-9]*|0) echo "FUZZ_SECONDS must be a positive number" >&2; exit 2;; esac
for t in $targets; do
    work="$out/$t"
    rm -rf "$work"
    mkdir -p "$work/corpus"
    cp "$here/corpus/$t/"* "$work/corpus/"
    echo "fuzz_$t: ${seconds}s" >&2
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: runaway memory is a bug too.
    if ! "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" \
            "$work/corpus" >"$work/log" 2>&1; then
        tail -n 40 "$work/log" >&2
        echo "fuzz_$t FAILED; reproducer and log in $work" >&2
        exit 1
    fi
    grep -E '^Done|stat::number_of_executed_units' "$work/log" | head -1 >&2
done
