suite "8. Channel: one-way stream of 64-byte messages"
describe "A stream of 64 B messages one way, ns per message. The floor is the kernel path:" \
    "a pipe with one write per message."
unit "ns/msg"
program "$ROOT/bench/peers/channel_all.sh" "$BENCH_BIN" "$([ -n "$QUICK" ] && echo 0.2 || echo 1)"
row chan_oneway_64B - "mproc_chan, 64 B messages"
row pipe_oneway_64B floor "pipe, 64 B messages"
