# The spawn benchmark with the parent 256 MiB bigger: which ways of starting a process copy
# the parent? Each variant also runs with the parent not grown, in the same rounds, so the
# last column (growth) compares like with like even on a busy machine.
suite "2. Spawn + wait for /bin/true, parent RSS grown by 256 MiB"
describe "As benchmark 1, but the benchmark process first mallocs 256 MiB and writes every" \
    "page, so its resident set is 256 MiB larger before timing starts. A \`fork\` copies the" \
    "parent's page tables and gets slower as the parent grows; \`vfork\`, \`posix_spawn\` and" \
    "mproc (clone with \`CLONE_VM|CLONE_VFORK\`) share the parent's memory and stay flat." \
    "mproc's target: ≤ 1.05× the vfork floor at 256 MiB. Each variant also runs with the" \
    "parent not grown (the \"not grown\" rows), round-robin in the same rounds; the last" \
    "column divides each 256 MiB median by its own not-grown median (1.00× = flat)."
show_rss
compare -small "growth: × not grown"
C="$BENCH_BIN/bench_proc"
variant mproc 300 1.05 "mproc_spawn + mproc_proc_wait" -- "$C" --rss-mib 256 spawn-mproc
variant mproc-small 300 - "↳ the same, parent not grown" -- "$C" spawn-mproc
variant vfork 300 floor "raw vfork + execve + waitpid" -- "$C" --rss-mib 256 spawn-vfork
variant vfork-small 300 - "↳ the same, parent not grown" -- "$C" spawn-vfork
variant posix_spawn 300 - "raw posix_spawn + waitpid" -- "$C" --rss-mib 256 spawn-posix_spawn
variant posix_spawn-small 300 - "↳ the same, parent not grown" -- "$C" spawn-posix_spawn
variant fork 60 - "raw fork + execve + waitpid" -- "$C" --rss-mib 256 spawn-fork
variant fork-small 300 - "↳ the same, parent not grown" -- "$C" spawn-fork
variant python 200 - "Python subprocess.run(['/bin/true'])" -- python3 "$PEERS/spawn.py" --rss-mib 256
variant python-small 200 - "↳ the same, parent not grown" -- python3 "$PEERS/spawn.py"
variant node 40 - "Node child_process.spawnSync('/bin/true')" -- node "$PEERS/spawn.js" --rss-mib 256
variant node-small 150 - "↳ the same, parent not grown" -- node "$PEERS/spawn.js"
