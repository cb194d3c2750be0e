// Thousands of seeded chaos schedules (see chaos.ts). Each checks the Raft safety properties
// after every step, the key-value history for linearizability (writes and ReadIndex reads),
// and liveness after healing. A failing seed prints itself and the one command that replays it.
// SEED=n replays one seed; SEEDS=n sets how many run (default 2000); FIRST_SEED shifts them;
// CHAOS_ROUNDS=n lengthens the chaos phase (the soak's long runs replay with it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultChaos, replayCommand, runChaos } from './chaos.ts';

const single = process.env.SEED;
const count = Number(process.env.SEEDS ?? 2000);
const first = Number(process.env.FIRST_SEED ?? 1);
const rounds = Number(process.env.CHAOS_ROUNDS ?? defaultChaos.rounds);
const seeds = single !== undefined ? [Number(single)] : Array.from({ length: count }, (_, i) => first + i);

test(`${seeds.length} chaos schedules keep Raft safe, linearizable and live after healing`, () => {
  const failures: string[] = [];
  let committed = 0;
  let operations = 0;
  const totals = { snapshotsInstalled: 0, confChangesApplied: 0, readsServed: 0, crashes: 0, powerLosses: 0, writesLost: 0 };
  for (const seed of seeds) {
    const r = runChaos({ seed, ...defaultChaos, rounds });
    committed += r.committed;
    operations += r.operations;
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
    if (r.failure !== undefined) {
      failures.push(`chaos seed ${seed} failed: ${r.failure}\n  replay: ${replayCommand(seed, rounds)}`);
      if (failures.length >= 5) break;
    }
  }
  if (failures.length > 0) {
    console.error(failures.join('\n\n'));
    assert.fail(`${failures.length} chaos seed(s) failed; first: ${failures[0]?.split('\n')[0]}`);
  }
  // The schedules must actually do work, or passing them proves nothing.
  assert.ok(committed >= seeds.length * 10, `only ${committed} entries committed over ${seeds.length} seeds`);
  assert.ok(operations >= seeds.length * 10, `only ${operations} client operations over ${seeds.length} seeds`);
  console.log(`chaos totals over ${seeds.length} seeds: ${JSON.stringify(totals)}`);
  if (single === undefined) {
    for (const [what, n] of Object.entries(totals)) assert.ok(n >= seeds.length / 10, `only ${n} ${what} over ${seeds.length} seeds`);
  }
});

test('a chaos seed replays exactly: the same seed gives the same run', () => {
  for (const seed of [3, 17, 1234]) {
    assert.deepEqual(runChaos({ seed, ...defaultChaos }), runChaos({ seed, ...defaultChaos }));
  }
});
