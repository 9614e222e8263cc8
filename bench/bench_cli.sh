#!/usr/bin/env bash
# bench_cli.sh: `mproc run` against its peers. Prints one line per case: `name ms_per_job`
# (the median of RUNS runs, wall clock).
#   1. N jobs of /bin/true at -j2: mproc run, xargs -P2 -n1, GNU parallel -j2, and a bare
#      posix_spawn loop (the floor, bench/spawn_floor.c, compiled here with cc -O2);
#   2. 100 jobs that each write 10 MiB to stdout, -j2, output grouped per job, to a pipe.
# usage: bench/bench_cli.sh [path/to/mproc]   (default: build/release/mproc; build it with
#        cmake --preset release && cmake --build --preset release)
# env:   N (default 1000), RUNS (default 5), BIG_JOBS (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
MPROC=${1:-build/release/mproc}
N=${N:-1000}
RUNS=${RUNS:-5}
BIG_JOBS=${BIG_JOBS:-100}
[ -x "$MPROC" ] || { echo "bench_cli: $MPROC not built (see usage)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/spawn_floor" bench/spawn_floor.c
seq "$N" >"$tmp/args"
seq "$BIG_JOBS" >"$tmp/big"

# median_ms_per_job JOBS CMD...: runs CMD RUNS times, prints the median ms per job.
median_ms_per_job() {
    local jobs=$1
    shift
    local i s e
    for ((i = 0; i < RUNS; i++)); do
        s=$(date +%s%N)
        "$@" >/dev/null
        e=$(date +%s%N)
        echo $((e - s))
    done | sort -n | awk -v jobs="$jobs" '{ t[NR] = $1 }
        END { printf "%.3f\n", t[int((NR + 1) / 2)] / jobs / 1e6 }'
}

report() { # name jobs cmd...
    local name=$1
    shift
    printf '%s %s\n' "$name" "$(median_ms_per_job "$@")"
}

have_parallel=0
command -v parallel >/dev/null && have_parallel=1

# 1. /bin/true at -j2 (each command gets its argument appended, as xargs -n1 does)
report spawn_floor_j2 "$N" "$tmp/spawn_floor" "$N" 2 /bin/true
report mproc_run_j2 "$N" "$MPROC" run -j2 /bin/true :::: "$tmp/args"
report xargs_P2 "$N" sh -c 'xargs -P2 -n1 /bin/true <"$1"' sh "$tmp/args"
if [ $have_parallel = 1 ]; then
    report gnu_parallel_j2 "$N" parallel --will-cite -j2 /bin/true :::: "$tmp/args"
else
    echo "gnu_parallel_j2 NA (parallel not installed)"
fi

# 2. 100 jobs x 10 MiB, grouped, through a pipe
big='head -c 10485760 /dev/zero'
report mproc_run_10MiB_grouped "$BIG_JOBS" sh -c '"$1" run -j2 sh -c "$2" {} :::: "$3" | cat >/dev/null' \
    sh "$MPROC" "$big" "$tmp/big"
report xargs_10MiB_ungrouped "$BIG_JOBS" sh -c 'xargs -P2 -n1 sh -c "$1" <"$2" | cat >/dev/null' \
    sh "$big" "$tmp/big"
if [ $have_parallel = 1 ]; then
    report gnu_parallel_10MiB_grouped "$BIG_JOBS" sh -c 'parallel --will-cite -j2 -q sh -c "$1" {} :::: "$2" | cat >/dev/null' \
        sh "$big" "$tmp/big"
fi
