suite "11. Lock: uncontended acquire + release"
describe "One process takes and releases the lock with nobody else around. The issue's" \
    "target is ≤ 25 ns absolute; the robust pthread mutex is the floor for the ratio."
unit "ns/op"
program "$BENCH_BIN/bench_sync" "$ROOT/bench/peers/value_lock.py"
row lock_uncontended_mproc - "mproc_lock_acquire + release"
row lock_uncontended_pthread_robust floor "pthread_mutex_lock + unlock (robust, shared)"
