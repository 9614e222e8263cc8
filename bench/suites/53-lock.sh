# Locks: mproc's robust, deadlock-detecting lock against a robust pthread mutex.
suite "10. Lock: two processes counting under it"
describe "Two processes each add 1 to a shared counter under the lock; ns per increment" \
    "(wall time / increments). The floor is a robust process-shared pthread mutex (glibc);" \
    "the issue's target is ≤ 1.3× it. An atomic add with no lock and Python's" \
    "\`Value.get_lock()\` are shown for scale. Both locks are measured in the same layout:" \
    "the lock in one cache line, the counter in the next (the mproc lock is placed in the" \
    "benchmark's shared region with \`mproc_lock_init\`, next to the pthread mutex)."
unit "ns/op"
program "$BENCH_BIN/bench_sync" "$ROOT/bench/peers/value_lock.py"
row counter_2proc_mproc 1.3 "mproc_lock (robust, deadlock-detecting)"
row counter_2proc_pthread_robust floor "pthread mutex, robust + process-shared"
row counter_2proc_atomic - "atomic add, no lock"
row counter_2proc_python - "Python Value.get_lock()"
