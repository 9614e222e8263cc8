suite "13. Pool map of x*x over ints, 2 workers, chunked"
describe "The same map with chunks: 1,000 items per claim, or mproc's automatic (adaptive)" \
    "chunking, with input copied in and out, or zero-copy from the pool's arena. mproc's target" \
    "with automatic chunking is ≥ 80 M items/s (≤ 12.5 ns/item). Python Pool.map uses its" \
    "default chunksize."
unit "ns/item"
variant auto 10000000 - "mproc_pool_map, automatic chunk" -- "$BENCH_BIN/bench_pool" map-mproc-auto
variant autozc 10000000 - "mproc_pool_map, automatic chunk, data in the arena (no copy)" -- "$BENCH_BIN/bench_pool" map-mproc-auto-zc
variant c1000 10000000 - "mproc_pool_map, chunk 1000" -- "$BENCH_BIN/bench_pool" map-mproc-c1000
variant raw 10000000 floor "raw: forked workers, shared atomic counter, chunk 1000" -- "$BENCH_BIN/bench_pool" map-raw-c1000
variant pypool 2000000 - "Python Pool.map, default chunksize" -- python3 "$PEERS/pool.py" map-pool-default
variant pyexec 500000 - "Python ProcessPoolExecutor.map, chunksize=1000" -- python3 "$PEERS/pool.py" map-executor-c1000
