# Pool map throughput: mproc's pool against a raw shared-memory floor and Python.
suite "12. Pool map of x*x over ints, 2 workers, chunk 1"
describe "One map of small items (\`x*x\` on ints) with one item per claim: the cost of" \
    "handing out work. The floor is two forked processes claiming items from one shared" \
    "atomic counter with no accounting at all. mproc's target is ≥ 10 M items/s, that is" \
    "≤ 100 ns/item. Python's Pool and ProcessPoolExecutor pickle every item through pipes."
unit "ns/item"
variant mproc 2000000 - "mproc_pool_map, chunk 1" -- "$BENCH_BIN/bench_pool" map-mproc-c1
variant raw 2000000 floor "raw: forked workers, shared atomic counter, chunk 1" -- "$BENCH_BIN/bench_pool" map-raw-c1
variant pypool 20000 - "Python Pool.map, chunksize=1" -- python3 "$PEERS/pool.py" map-pool-c1
variant pyexec 5000 - "Python ProcessPoolExecutor.map, chunksize=1" -- python3 "$PEERS/pool.py" map-executor-c1
