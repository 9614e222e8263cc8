# mproc run against xargs, GNU parallel and a bare posix_spawn loop.
suite "17. mproc run: 1,000 jobs of /bin/true at -j2"
describe "Per-job cost of a parallel job runner: each job is \`/bin/true N\`, two at a time." \
    "The floor is a bare posix_spawn loop keeping two jobs running (bench/spawn_floor.c)." \
    "The issue's target is ≤ 0.30 ms/job against a floor of ~0.27 ms/job measured there, that" \
    "is ≤ 1.11× the floor; GNU parallel starts a Perl interpreter's worth of work per job."
unit "µs/job"
variant mproc 1000 1.11 "mproc run -j2 /bin/true :::: args" -- bench/bench_cli.sh --variant mproc_run_j2
variant floor 1000 floor "bare posix_spawn loop, 2 at a time" -- bench/bench_cli.sh --variant spawn_floor_j2
variant xargs 1000 - "xargs -P2 -n1 /bin/true" -- bench/bench_cli.sh --variant xargs_P2
variant parallel 300 - "GNU parallel -j2 /bin/true" -- bench/bench_cli.sh --variant gnu_parallel_j2
