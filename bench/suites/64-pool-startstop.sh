suite "16. Pool: start and stop 2 workers"
describe "Create a pool of 2 workers, close it and wait for the workers to exit." \
    "mproc's target is ≤ 1 ms."
variant mproc 200 - "mproc_pool_new + close + join + free" -- "$BENCH_BIN/bench_pool" startstop-mproc
variant python 30 floor "Python: with Pool(2): pass" -- python3 "$PEERS/pool.py" startstop-pool
