"""Peer: start and join a multiprocessing Process (fork start method) whose target returns."""
import multiprocessing

from common import grow_rss, parse_args, run


def target():
    return None


def start_join(ctx):
    p = ctx.Process(target=target)
    p.start()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"mp_fork.py: child exitcode {p.exitcode}")


def main():
    rss_mib, iterations = parse_args("mp_fork.py [--rss-mib N] ITERATIONS")
    ctx = multiprocessing.get_context("fork")
    grow_rss(rss_mib)
    run("python-multiprocessing-fork", lambda: start_join(ctx), iterations)


if __name__ == "__main__":
    main()
