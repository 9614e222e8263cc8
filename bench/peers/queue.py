#!/usr/bin/env python3
"""Peer for bench/bench_queue.c: Python's multiprocessing.Queue, one producer process and
one consumer (the main process). Prints "name value" lines like the C benchmark."""
import sys

sys.path.pop(0)  # this file is named queue.py: do not shadow the standard module

import multiprocessing as mp  # noqa: E402
import time  # noqa: E402


def produce(q, n, size):
    msg = b"x" * size
    for _ in range(n):
        q.put(msg)


def rate(n, size):
    q = mp.Queue(maxsize=1024)
    p = mp.Process(target=produce, args=(q, n, size))
    t0 = time.perf_counter()
    p.start()
    for _ in range(n):
        q.get()
    dt = time.perf_counter() - t0
    p.join()
    return n / dt


if __name__ == "__main__":
    mp.set_start_method("fork")
    print("python_queue_64B_msgs_per_s %.0f" % rate(200000, 64), flush=True)
    print("python_queue_1MiB_GB_per_s %.2f" % (rate(500, 1 << 20) * (1 << 20) / 1e9), flush=True)
