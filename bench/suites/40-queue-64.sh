# The shared-memory queue against a raw ring, a pipe, ZeroMQ and Python's Queue.
suite "4. Queue: 64-byte messages, one producer and one consumer"
describe "Messages of 64 B from one process to another. The floor is a raw single-producer" \
    "single-consumer ring in shared memory with no crash safety, no blocking and no" \
    "variable sizes. The issue's target is ≥ 50 M msgs/s against a 184 M/s ring measured" \
    "there (≤ 3.7× this floor); 2 producers × 2 consumers are reported too. ZeroMQ is" \
    "PUSH/PULL over ipc (loaded at run time if libzmq is installed); the pipe writes one" \
    "message per write(2)."
unit "µs/msg"
variant q11 2000000 3.7 "mproc_queue, 1 producer × 1 consumer" -- "$BENCH_BIN/bench_queue" q64-1x1
variant q22 2000000 - "mproc_queue, 2 producers × 2 consumers" -- "$BENCH_BIN/bench_queue" q64-2x2
variant ring 2000000 floor "raw shared-memory SPSC ring" -- "$BENCH_BIN/bench_queue" ring64
variant pipe 500000 - "pipe, one write per message" -- "$BENCH_BIN/bench_queue" pipe64
variant zmq 500000 - "ZeroMQ PUSH/PULL ipc" -- "$BENCH_BIN/bench_queue" zmq64
variant python 100000 - "Python multiprocessing.Queue" -- python3 "$PEERS/mp_queue.py" 64
