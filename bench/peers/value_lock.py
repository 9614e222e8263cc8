"""Peer for bench_sync: two processes adding 1 to a multiprocessing.Value under its
get_lock(). Prints "counter_2proc_python <median ns per increment>"."""
import multiprocessing as mp
import statistics
import time

N = 100_000
REPS = 5


def add(v, go, n):
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def one_run():
    ctx = mp.get_context("fork")
    v = ctx.Value("q", 0)
    go = ctx.Event()
    ps = [ctx.Process(target=add, args=(v, go, N)) for _ in range(2)]
    for p in ps:
        p.start()
    time.sleep(0.05)
    t0 = time.perf_counter_ns()
    go.set()
    for p in ps:
        p.join()
    elapsed = time.perf_counter_ns() - t0
    assert v.value == 2 * N
    return elapsed / (2 * N)


if __name__ == "__main__":
    print("counter_2proc_python %.1f" % statistics.median(one_run() for _ in range(REPS)))
