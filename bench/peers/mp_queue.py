#!/usr/bin/env python3
"""Peer for bench/bench_queue.c: Python's multiprocessing.Queue, one producer process and
one consumer (the main process).

    mp_queue.py                     both measurements as "name value" lines
    mp_queue.py VARIANT ITERATIONS  one variant (64 or 1m) as bench/run expects:
                                 "VARIANT ITERATIONS microseconds-per-message parent-RSS-KiB"
"""
import sys

sys.path.pop(0)  # keep this folder off the module path, as the other peers expect nothing from it

import multiprocessing as mp  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

SIZES = {"64": 64, "1m": 1 << 20}


def produce(q, n, size):
    msg = b"x" * size
    for _ in range(n):
        q.put(msg)


def seconds(n, size):
    """Time for one producer process to pass n messages of size bytes to us."""
    q = mp.Queue(maxsize=1024)
    p = mp.Process(target=produce, args=(q, n, size))
    t0 = time.perf_counter()
    p.start()
    for _ in range(n):
        if len(q.get()) != size:
            raise SystemExit("mp_queue.py: short message")
    dt = time.perf_counter() - t0
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"mp_queue.py: producer exitcode {p.exitcode}")
    return dt


def main():
    mp.set_start_method("fork")
    if len(sys.argv) == 3 and sys.argv[1] in SIZES:
        size, n = SIZES[sys.argv[1]], int(sys.argv[2])
        seconds(max(n // 10, 1), size)  # untimed warm-up
        dt = seconds(n, size)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"python-queue-{sys.argv[1]} {n} {dt / n * 1e6:.3f} {rss}", flush=True)
        return
    if len(sys.argv) != 1:
        raise SystemExit("usage: mp_queue.py [64|1m ITERATIONS]")
    print("python_queue_64B_msgs_per_s %.0f" % (200000 / seconds(200000, 64)), flush=True)
    gbps = 500 * (1 << 20) / seconds(500, 1 << 20) / 1e9
    print("python_queue_1MiB_GB_per_s %.2f" % gbps, flush=True)


if __name__ == "__main__":
    main()
