"""Peer: spawn and wait for /bin/true with subprocess.run, in one Python process."""
import subprocess

from common import grow_rss, parse_args, run


def spawn_true():
    if subprocess.run(["/bin/true"]).returncode != 0:
        raise SystemExit("spawn.py: /bin/true did not exit with code 0")


def main():
    rss_mib, iterations = parse_args("spawn.py [--rss-mib N] ITERATIONS")
    grow_rss(rss_mib)
    run("python-subprocess.run", spawn_true, iterations)


if __name__ == "__main__":
    main()
