#!/usr/bin/env bash
# The channel suite's one program: bench_channel's own lines, then the Python Pipe and the
# Node fork() IPC round trips, when python3 and node exist.
# usage: channel_all.sh BENCH_BIN SCALE
set -euo pipefail
bin=$1 scale=$2
here=$(cd "$(dirname "$0")" && pwd)
"$bin/bench_channel" "$scale"
n=$(awk -v s="$scale" 'BEGIN { n = int(20000 * s); print n < 200 ? 200 : n }')
if command -v python3 >/dev/null; then python3 "$here/pipe_roundtrip.py" "$n"; fi
if command -v node >/dev/null; then node "$here/node_ipc_roundtrip.js" "$n"; fi
