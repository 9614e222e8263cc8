suite "9. Channel: one-way stream of 1 MiB messages"
describe "1 MiB messages one way, ns per message (GB/s = 1,048,576 / ns). The issue's target" \
    "is ≥ 10 GB/s, that is ≤ 105,000 ns per message (DESIGN.md aims at 40 GB/s, ≤ 26,000 ns)." \
    "The floor is a socketpair."
unit "ns/msg"
program "$ROOT/bench/peers/channel_all.sh" "$BENCH_BIN" "$([ -n "$QUICK" ] && echo 0.2 || echo 1)"
row chan_oneway_1MiB - "mproc_chan, 1 MiB messages"
row socketpair_oneway_1MiB floor "socketpair, 1 MiB messages"
