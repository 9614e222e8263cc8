# Channels: round trip and throughput, against pipe, socketpair, a spin floor, Python, Node.
suite "7. Channel: round trip of an 8-byte message"
describe "Send 8 bytes to a forked peer that sends them back, both sides active. The floor is" \
    "two processes spinning on shared-memory flags. The issue's targets: ≤ 2× that floor," \
    "and ≥ 20× faster than Python's \`multiprocessing.Pipe\`. Node is \`fork()\` +" \
    "\`child.send\` / \`process.on('message')\`. All values: median ns per round trip."
unit "ns/op"
program "$ROOT/bench/peers/channel_all.sh" "$BENCH_BIN" "$([ -n "$QUICK" ] && echo 0.2 || echo 1)"
row chan_roundtrip_8B 2 "mproc_chan send + recv, 8 B"
row spin_floor_roundtrip_8B floor "shared-memory spin flags (the floor)"
row pipe_roundtrip_8B - "two pipes, write + read"
row socketpair_roundtrip_8B - "socketpair, write + read"
row python_pipe_roundtrip_8B - "Python multiprocessing.Pipe send_bytes + recv_bytes"
row node_ipc_roundtrip_8B - "Node fork() IPC send + message"
