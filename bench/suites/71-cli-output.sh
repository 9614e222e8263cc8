suite "18. mproc run: 100 jobs each writing 10 MiB, -j2"
describe "Output-heavy jobs: 1 GB in total through the runner into a pipe. mproc and GNU" \
    "parallel group each job's output (never interleaved), so they hold it until the job ends;" \
    "xargs lets the jobs write to the pipe directly, interleaved, and is the floor."
unit "µs/job"
variant mproc 100 - "mproc run -j2 (grouped)" -- bench/bench_cli.sh --variant mproc_run_10MiB_grouped
variant xargs 100 floor "xargs -P2 (not grouped)" -- bench/bench_cli.sh --variant xargs_10MiB_ungrouped
variant parallel 100 - "GNU parallel -j2 (grouped)" -- bench/bench_cli.sh --variant gnu_parallel_10MiB_grouped
