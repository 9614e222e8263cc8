# Fork a function and join it: mproc_fork against raw fork and Python multiprocessing.
suite "3. Fork a function, start + join"
describe "Fork a child that runs a function returning 0, and wait for it. The floor is raw" \
    "\`fork\` + \`_exit(0)\` + \`waitpid\`; mproc's target is ≤ 1.1× that floor. Python starts a" \
    "\`multiprocessing\` Process with the fork start method" \
    "(\`multiprocessing.get_context('fork')\`) and joins it."
show_rss
variant mproc 1000 1.1 "mproc_fork (fn returns 0) + mproc_proc_wait" -- "$BENCH_BIN/bench_proc" fork-mproc
variant fork 1000 floor "raw fork + _exit(0) + waitpid" -- "$BENCH_BIN/bench_proc" fork-raw
variant python 150 - "Python multiprocessing Process(target=f) start + join (fork)" -- python3 "$PEERS/mp_fork.py"
