#!/usr/bin/env bash
# bench_cli.sh: `mproc run` against its peers. Prints one line per case: `name ms_per_job`,
# the median over RUNS rounds of wall-clock time divided by the number of jobs. The cases
# run interleaved, one of each per round, so a noisy machine weighs on all of them alike.
#   1. N jobs of /bin/true at -j2: mproc run, xargs -P2 -n1, GNU parallel -j2, and a bare
#      posix_spawn loop (the floor, bench/spawn_floor.c, compiled here with cc -O2);
#   2. BIG_JOBS jobs that each write 10 MiB to stdout, -j2, into a pipe: mproc run (output
#      grouped per job), GNU parallel (grouped), xargs (not grouped: jobs share the pipe).
# usage: bench/bench_cli.sh [path/to/mproc]   (default: build/release/mproc; build it with
#        cmake --preset release && cmake --build --preset release)
#        bench/bench_cli.sh --variant CASE ITERATIONS
#            one case, for bench/run's suites: an untimed warm-up of ITERATIONS/10 jobs,
#            then ITERATIONS jobs, printing `CASE ITERATIONS us_per_job max_rss_kib`
#            (mproc from $MPROC, default build/release/mproc)
# env:   N (default 1000), RUNS (default 5), BIG_JOBS (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANT=
if [ "${1:-}" = --variant ]; then
    [ $# -eq 3 ] || { echo "usage: bench_cli.sh --variant CASE ITERATIONS" >&2; exit 2; }
    VARIANT=$2
    N=$3 BIG_JOBS=$3
    MPROC=${MPROC:-build/release/mproc}
else
    MPROC=${1:-build/release/mproc}
fi
N=${N:-1000}
RUNS=${RUNS:-5}
BIG_JOBS=${BIG_JOBS:-100}
[ -x "$MPROC" ] || { echo "bench_cli: $MPROC not built (see usage)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/spawn_floor" bench/spawn_floor.c
seq "$N" >"$tmp/args"
seq "$BIG_JOBS" >"$tmp/big"
big='head -c 10485760 /dev/zero'

# Every runner appends one argument per job (coreutils' true reads its locale only when
# it has one), so spawn_floor appends the job number too.
case_spawn_floor_j2() { "$tmp/spawn_floor" "$N" 2 /bin/true; }
case_mproc_run_j2() { "$MPROC" run -j2 /bin/true :::: "$tmp/args"; }
case_xargs_P2() { xargs -P2 -n1 /bin/true <"$tmp/args"; }
case_gnu_parallel_j2() { parallel --will-cite -j2 /bin/true :::: "$tmp/args"; }
case_mproc_run_10MiB_grouped() { "$MPROC" run -j2 sh -c "$big" {} :::: "$tmp/big" | cat >/dev/null; }
case_xargs_10MiB_ungrouped() { xargs -P2 -n1 sh -c "$big" <"$tmp/big" | cat >/dev/null; }
case_gnu_parallel_10MiB_grouped() {
    parallel --will-cite -j2 -q sh -c "$big" {} :::: "$tmp/big" | cat >/dev/null
}

# --variant: one case, the harness's line format.
if [ -n "$VARIANT" ]; then
    declare -F "case_$VARIANT" >/dev/null || { echo "bench_cli: no case '$VARIANT'" >&2; exit 2; }
    iters=$N
    N=$(((iters + 9) / 10)) BIG_JOBS=$N
    seq "$N" >"$tmp/args"
    seq "$N" >"$tmp/big"
    "case_$VARIANT" >/dev/null # warm-up
    N=$iters BIG_JOBS=$iters
    seq "$N" >"$tmp/args"
    seq "$N" >"$tmp/big"
    rss=0
    s=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        export -f "case_$VARIANT"
        export tmp MPROC N BIG_JOBS big
        /usr/bin/time -f %M -o "$tmp/rss" bash -c "case_$VARIANT" >/dev/null
        rss=$(tail -1 "$tmp/rss")
    else
        "case_$VARIANT" >/dev/null
    fi
    e=$(date +%s%N)
    awk -v n="$VARIANT" -v it="$iters" -v ns=$((e - s)) -v rss="$rss" \
        'BEGIN { printf "%s %d %.3f %d\n", n, it, ns / it / 1e3, rss }'
    exit 0
fi

small=(spawn_floor_j2 mproc_run_j2 xargs_P2)
large=(mproc_run_10MiB_grouped xargs_10MiB_ungrouped)
if command -v parallel >/dev/null; then
    small+=(gnu_parallel_j2)
    large+=(gnu_parallel_10MiB_grouped)
else
    echo "bench_cli: GNU parallel not installed: its cases are left out" >&2
fi

for ((r = 0; r < RUNS; r++)); do
    for name in "${small[@]}" "${large[@]}"; do
        s=$(date +%s%N)
        "case_$name" >/dev/null || { echo "bench_cli: case $name failed (round $r)" >&2; exit 1; }
        e=$(date +%s%N)
        echo "$name $((e - s))" >>"$tmp/times"
    done
done

for name in "${small[@]}" "${large[@]}"; do
    jobs=$N
    [[ " ${large[*]} " == *" $name "* ]] && jobs=$BIG_JOBS
    awk -v n="$name" -v jobs="$jobs" '$1 == n { print $2 }' "$tmp/times" | sort -n |
        awk -v n="$name" -v jobs="$jobs" '{ t[NR] = $1 }
            END { printf "%s %.3f\n", n, t[int((NR + 1) / 2)] / jobs / 1e6 }'
done
