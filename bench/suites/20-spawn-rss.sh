# The spawn benchmark again with the parent 256 MiB bigger: which ways copy the parent?
suite "2. Spawn + wait for /bin/true, parent RSS grown by 256 MiB"
describe "As benchmark 1, but each benchmark process first mallocs 256 MiB and writes every" \
    "page, so its resident set is 256 MiB larger before timing starts. A \`fork\` copies the" \
    "parent's page tables and gets slower as the parent grows; \`vfork\`, \`posix_spawn\` and" \
    "mproc (clone with \`CLONE_VM|CLONE_VFORK\`) share the parent's memory and stay flat." \
    "mproc's target: ≤ 1.05× the vfork floor here too. The last column compares each variant" \
    "with itself in benchmark 1 (1.00× = flat)."
show_rss
compare_with spawn "× itself in benchmark 1"
variant mproc 300 1.05 "mproc_spawn + mproc_proc_wait" -- "$BENCH_BIN/bench_proc" --rss-mib 256 spawn-mproc
variant vfork 300 floor "raw vfork + execve + waitpid" -- "$BENCH_BIN/bench_proc" --rss-mib 256 spawn-vfork
variant posix_spawn 300 - "raw posix_spawn + waitpid" -- "$BENCH_BIN/bench_proc" --rss-mib 256 spawn-posix_spawn
variant fork 60 - "raw fork + execve + waitpid" -- "$BENCH_BIN/bench_proc" --rss-mib 256 spawn-fork
variant python 200 - "Python subprocess.run(['/bin/true'])" -- python3 "$PEERS/spawn.py" --rss-mib 256
variant node 40 - "Node child_process.spawnSync('/bin/true')" -- node "$PEERS/spawn.js" --rss-mib 256
