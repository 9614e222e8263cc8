# Spawn a command and wait for it: mproc_spawn against the raw system calls and the peers.
# Sourced by bench/run (see the suite API there); $BENCH_BIN and $PEERS are set by it.
suite "1. Spawn + wait for /bin/true"
describe "Start \`/bin/true\` and wait for it to exit, one at a time. The floor is the cheapest" \
    "raw way: \`vfork\` + \`execve\` + \`waitpid\`. mproc's target is ≤ 1.05× that floor." \
    "Python and Node loop inside one interpreter (timed with \`time.perf_counter\` /" \
    "\`process.hrtime\`), so their start-up is not counted."
show_rss
variant mproc 500 1.05 "mproc_spawn + mproc_proc_wait" -- "$BENCH_BIN/bench_proc" spawn-mproc
variant vfork 500 floor "raw vfork + execve + waitpid" -- "$BENCH_BIN/bench_proc" spawn-vfork
variant posix_spawn 500 - "raw posix_spawn + waitpid" -- "$BENCH_BIN/bench_proc" spawn-posix_spawn
variant fork 500 - "raw fork + execve + waitpid" -- "$BENCH_BIN/bench_proc" spawn-fork
variant python 500 - "Python subprocess.run(['/bin/true'])" -- python3 "$PEERS/spawn.py"
variant node 250 - "Node child_process.spawnSync('/bin/true')" -- node "$PEERS/spawn.js"
