"""Peer for the channel suite: round trip of an 8-byte message over multiprocessing.Pipe
between this process and a forked child that echoes it. Prints
"python_pipe_roundtrip_8B <median ns>" (median of 5 rounds)."""
import multiprocessing as mp
import statistics
import sys
import time


def echo(conn):
    while True:
        m = conn.recv_bytes()
        if not m:
            return
        conn.send_bytes(m)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo, args=(b,))
    p.start()
    msg = b"12345678"
    for _ in range(n // 10):
        a.send_bytes(msg)
        a.recv_bytes()
    rounds = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            a.send_bytes(msg)
            a.recv_bytes()
        rounds.append((time.perf_counter() - t0) * 1e9 / n)
    a.send_bytes(b"")
    p.join()
    print("python_pipe_roundtrip_8B %.0f" % statistics.median(rounds))


if __name__ == "__main__":
    main()
