// Peer: spawn and wait for /bin/true with child_process.spawnSync, in one Node process.
// Prints one line like bench_proc: <variant> <iterations> <us per op> <parent RSS KiB>.
'use strict';
const { spawnSync } = require('child_process');

function parseArgs() {
  let args = process.argv.slice(2);
  let rssMib = 0;
  if (args.length >= 2 && args[0] === '--rss-mib') {
    rssMib = Number(args[1]);
    args = args.slice(2);
  }
  const iterations = Number(args[0]);
  if (args.length !== 1 || !(iterations >= 1)) {
    console.error('usage: spawn.js [--rss-mib N] ITERATIONS');
    process.exit(2);
  }
  return { rssMib, iterations };
}

function spawnTrue() {
  const r = spawnSync('/bin/true');
  if (r.status !== 0) throw new Error(`spawn.js: /bin/true gave ${r.status} ${r.error}`);
}

function main() {
  const { rssMib, iterations } = parseArgs();
  // Buffer.alloc with a fill value writes every page, so the memory is resident.
  const ballast = rssMib > 0 ? Buffer.alloc(rssMib << 20, 1) : null;
  for (let i = 0; i < Math.max(3, Math.floor(iterations / 10)); i++) spawnTrue();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) spawnTrue();
  const perOpUs = Number(process.hrtime.bigint() - t0) / 1e3 / iterations;
  const rssKib = Math.floor(process.memoryUsage().rss / 1024);
  console.log(`node-spawnSync ${iterations} ${perOpUs.toFixed(3)} ${rssKib}`);
  if (ballast) ballast[0] = 2; // keep it alive until here
}

main();
