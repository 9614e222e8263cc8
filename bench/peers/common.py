"""Shared by the Python peers: argument parsing, RSS growth, timing, the output line.

Every peer prints exactly one line, the same as bench_proc does:
    <variant> <iterations> <microseconds per operation> <parent RSS in KiB>
"""
import os
import sys
import time

_ballast = None


def parse_args(usage):
    """Returns (rss_mib, iterations) from: [--rss-mib N] ITERATIONS."""
    args = sys.argv[1:]
    rss_mib = 0
    if len(args) >= 2 and args[0] == "--rss-mib":
        rss_mib = int(args[1])
        args = args[2:]
    if len(args) != 1 or int(args[0]) < 1:
        sys.exit("usage: " + usage)
    return rss_mib, int(args[0])


def grow_rss(mib):
    """Makes the parent N MiB bigger and resident (every page written)."""
    global _ballast
    if mib > 0:
        _ballast = bytearray(b"\x01") * (mib << 20)


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024


def run(name, op, iterations):
    """Untimed warm-up, then `iterations` timed calls of op(); prints the result line."""
    for _ in range(max(3, iterations // 10)):
        op()
    t0 = time.perf_counter()
    for _ in range(iterations):
        op()
    per_op_us = (time.perf_counter() - t0) * 1e6 / iterations
    print(f"{name} {iterations} {per_op_us:.3f} {rss_kib()}", flush=True)
