// Long soak of the chaos simulator: many more seeds than the test suite runs.
// Run: node bench/raft-soak.ts [seeds=20000] [firstSeed=100000] [rounds=300]
// A failing seed prints the command that replays it.
import { defaultChaos, replayCommand, runChaos } from '../test/cluster/sim/chaos.ts';

const count = Number(process.argv[2] ?? 20000);
const first = Number(process.argv[3] ?? 100000);
const rounds = Number(process.argv[4] ?? defaultChaos.rounds);
const t0 = performance.now();
let failed = 0;
let committed = 0;
for (let seed = first; seed < first + count; seed++) {
  const r = runChaos({ seed, ...defaultChaos, rounds });
  committed += r.committed;
  if (r.failure !== undefined) {
    failed++;
    console.error(`seed ${seed} failed: ${r.failure.split('\n')[0]}\n  replay: ${replayCommand(seed, rounds)}`);
  }
  if ((seed - first + 1) % 1000 === 0) console.log(`${seed - first + 1} seeds, ${failed} failed, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
console.log(`done: ${count} seeds, ${failed} failed, ${committed} entries committed, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
process.exitCode = failed > 0 ? 1 : 0;
