// Peer for the channel suite: round trip of a small message over Node's fork() IPC
// channel (child.send / process.on('message')). Prints "node_ipc_roundtrip_8B <median ns>".
'use strict';
const { fork } = require('child_process');

if (process.argv[2] === 'child') {
  process.on('message', (m) => {
    if (m === null) process.exit(0);
    process.send(m);
  });
} else {
  const n = Number(process.argv[2] || 20000);
  const child = fork(__filename, ['child']);
  const msg = '12345678';
  const rounds = [];
  let i = 0, round = -1, t0 = 0;
  const total = n; // per round
  const warm = Math.floor(n / 10);
  child.on('message', () => {
    i++;
    if (round === -1 && i >= warm) { round = 0; i = 0; t0 = process.hrtime.bigint(); }
    else if (round >= 0 && i >= total) {
      rounds.push(Number(process.hrtime.bigint() - t0) / total);
      round++; i = 0;
      if (round === 5) {
        rounds.sort((a, b) => a - b);
        console.log('node_ipc_roundtrip_8B ' + Math.round(rounds[2]));
        child.send(null);
        return;
      }
      t0 = process.hrtime.bigint();
    }
    child.send(msg);
  });
  child.send(msg);
}
