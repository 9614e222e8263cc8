#!/usr/bin/env python3
"""Python peers for the pool benchmark: multiprocessing.Pool and ProcessPoolExecutor.

Prints "name value unit" lines like bench_pool. Usage: pool.py [--quick]"""
import sys
import time
import statistics
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor


def square(x):
    return x * x


def burn_5ms(_):
    t0 = time.perf_counter()
    x = 0
    while time.perf_counter() - t0 < 0.005:
        x += 1
    return x & 1


def rate(fn, n, reps):
    v = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(n)
        v.append(n / (time.perf_counter() - t0))
    return statistics.median(v)


def main():
    quick = "--quick" in sys.argv
    reps = 3 if quick else 5
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as p:
        n1 = 20000 if quick else 100000
        print("py_pool_map_chunk1 %.0f items/s" % rate(lambda n: p.map(square, range(n), chunksize=1), n1, reps))
        n2 = 1000000 if quick else 4000000
        print("py_pool_map_default %.0f items/s" % rate(lambda n: p.map(square, range(n)), n2, reps))
        lat = []
        for _ in range(200 if quick else 2000):
            t0 = time.perf_counter()
            p.apply_async(square, (3,)).get()
            lat.append((time.perf_counter() - t0) * 1e6)
        print("py_pool_apply_async_roundtrip %.1f us" % statistics.median(lat))
        t0 = time.perf_counter()
        p.map(burn_5ms, range(200), chunksize=1)
        print("py_pool_cpu_efficiency %.4f ratio" % ((200 * 0.005 / 2) / (time.perf_counter() - t0)))
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        n1 = 5000 if quick else 20000
        print("py_executor_map_chunk1 %.0f items/s" % rate(lambda n: list(ex.map(square, range(n))), n1, reps))
        n2 = 200000 if quick else 2000000
        print("py_executor_map_chunk1000 %.0f items/s" % rate(lambda n: list(ex.map(square, range(n), chunksize=1000)), n2, reps))
    v = []
    for _ in range(reps):
        t0 = time.perf_counter()
        with ctx.Pool(2) as p:
            pass
        v.append((time.perf_counter() - t0) * 1e6)
    print("py_pool_start_stop %.1f us" % statistics.median(v))


if __name__ == "__main__":
    main()
