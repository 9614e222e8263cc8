"""Peers for the pool suites: Python's multiprocessing.Pool and ProcessPoolExecutor.

    pool.py VARIANT ITERATIONS
prints "<variant> <iterations> <value per operation> <RSS KiB>": ns per item for maps, µs
per operation otherwise (the same protocol and units as bench_pool)."""
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from common import rss_kib

WORKERS = 2


def square(x):
    return x * x


def burn_5ms(_):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.005:
        pass
    return 0


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: pool.py VARIANT ITERATIONS")
    v, n = sys.argv[1], int(sys.argv[2])
    ctx = mp.get_context("fork")
    warm = max(1, n // 10)
    if v.startswith("map-pool-") or v in ("submit-pool", "cpu-pool"):
        with ctx.Pool(WORKERS) as p:
            if v == "map-pool-c1":
                p.map(square, range(warm), chunksize=1)
                per = timed(lambda: p.map(square, range(n), chunksize=1)) * 1e9 / n
            elif v == "map-pool-default":
                p.map(square, range(warm))
                per = timed(lambda: p.map(square, range(n))) * 1e9 / n
            elif v == "submit-pool":
                for _ in range(warm):
                    p.apply_async(square, (3,)).get()
                per = timed(lambda: [p.apply_async(square, (3,)).get() for _ in range(n)]) * 1e6 / n
            elif v == "cpu-pool":
                per = timed(lambda: p.map(burn_5ms, range(n), chunksize=1)) * 1e6 / n
            else:
                sys.exit("pool.py: unknown variant " + v)
    elif v.startswith("map-executor-"):
        chunk = 1 if v == "map-executor-c1" else 1000
        with ProcessPoolExecutor(WORKERS, mp_context=ctx) as ex:
            list(ex.map(square, range(warm), chunksize=chunk))
            per = timed(lambda: list(ex.map(square, range(n), chunksize=chunk))) * 1e9 / n
    elif v == "startstop-pool":
        def once():
            with ctx.Pool(WORKERS):
                pass
        for _ in range(warm):
            once()
        per = timed(lambda: [once() for _ in range(n)]) * 1e6 / n
    else:
        sys.exit("pool.py: unknown variant " + v)
    print(f"{v} {n} {per:.4f} {rss_kib()}", flush=True)


if __name__ == "__main__":
    main()
