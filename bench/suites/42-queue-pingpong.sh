suite "6. Queue: ping-pong over two queues"
describe "Round trip of a small message through two queues (one each way) between two" \
    "processes that are both active. The floor is two shared-memory spin flags, each carrying" \
    "an 8-byte counter, so the queue's message is 8 bytes too (as in the channel's round trip);" \
    "the issue's target is ≤ 2× that floor. A 64-byte message is shown as well."
variant queue 100000 2 "mproc_queue ping-pong, 8 B" -- "$BENCH_BIN/bench_queue" pingpong-queue
variant queue64 100000 - "mproc_queue ping-pong, 64 B" -- "$BENCH_BIN/bench_queue" pingpong-queue64
variant spin 100000 floor "shared-memory spin ping-pong" -- "$BENCH_BIN/bench_queue" pingpong-spin
