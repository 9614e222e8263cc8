suite "15. Pool: CPU-bound, 200 tasks of 5 ms on 2 workers"
describe "Wall time per task for 200 tasks that each burn 5 ms of CPU: 2,500 µs/task is" \
    "perfect (100% parallel efficiency). The floor is two raw forked processes claiming tasks" \
    "from a shared counter. mproc's target is ≥ 99.5% efficiency, ≤ 1.005× the floor here."
unit "µs/task"
variant mproc 200 1.005 "mproc_pool_map, automatic chunk" -- "$BENCH_BIN/bench_pool" cpu-mproc
variant raw 200 floor "raw: 2 forked workers, shared counter" -- "$BENCH_BIN/bench_pool" cpu-raw
variant python 200 - "Python Pool.map, chunksize=1" -- python3 "$PEERS/pool.py" cpu-pool
