suite "14. Pool: submit one task and wait for its result"
describe "Round trip of one small task: submit, wait, read the result. mproc's target is" \
    "≤ 5 µs; Python's floor here is \`Pool.apply_async(f, args).get()\`."
variant mproc 20000 - "mproc_pool_submit + mproc_future_wait" -- "$BENCH_BIN/bench_pool" submit-mproc
variant python 2000 floor "Python Pool.apply_async().get()" -- python3 "$PEERS/pool.py" submit-pool
