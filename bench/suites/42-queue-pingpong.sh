suite "6. Queue: ping-pong over two queues"
describe "Round trip of a small message through two queues (one each way) between two" \
    "processes that are both active. The floor is two shared-memory spin flags; the issue's" \
    "target is ≤ 2× that floor."
variant queue 100000 2 "mproc_queue ping-pong" -- "$BENCH_BIN/bench_queue" pingpong-queue
variant spin 100000 floor "shared-memory spin ping-pong" -- "$BENCH_BIN/bench_queue" pingpong-spin
