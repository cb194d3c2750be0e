// Throughput of the Raft core alone (no disk, no network): three RawNodes wired in memory,
// Readies handled as cluster/replica does (persist to MemoryStorage, send, apply, advance).
// Reports simulated ticks/s of an idle cluster and committed entries/s under load.
// Run: node bench/raft.ts
import { MemoryStorage, RawNode, seededRandom } from '../cluster/raft/index.ts';
import type { Message } from '../cluster/raft/index.ts';

function makeCluster(ids: string[]) {
  const storage = new Map(ids.map((id) => [id, new MemoryStorage({ voters: ids, learners: [] })]));
  const nodes = new Map(ids.map((id, i) => [id, new RawNode({ id, storage: storage.get(id) as MemoryStorage, random: seededRandom(i + 1) })]));
  let queue: Message[] = [];
  let committed = 0;
  const drain = (): void => {
    for (const [id, n] of nodes) {
      while (n.hasReady()) {
        const rd = n.ready();
        const s = storage.get(id) as MemoryStorage;
        if (rd.snapshot) s.applySnapshot(rd.snapshot);
        s.append(rd.entries);
        if (rd.hardState) s.setHardState(rd.hardState);
        for (const m of rd.messages) queue.push(m);
        if (id === ids[0]) committed += rd.committedEntries.length;
        n.advance();
      }
    }
  };
  const deliver = (): void => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      for (const m of batch) nodes.get(m.to)?.step(m);
      drain();
    }
  };
  const tick = (): void => {
    for (const n of nodes.values()) n.tick();
    drain();
    deliver();
  };
  return { nodes, tick, deliver, drain, committed: () => committed };
}

function bench(): void {
  const ids = ['a', 'b', 'c'];
  const c = makeCluster(ids);
  c.nodes.get('a')?.campaign();
  c.drain();
  c.deliver();
  const ticks = 200_000;
  let t0 = performance.now();
  for (let i = 0; i < ticks; i++) c.tick();
  const tickSecs = (performance.now() - t0) / 1000;
  const leader = c.nodes.get('a') as RawNode;
  const payload = new Uint8Array(64);
  const proposals = 300_000;
  const base = c.committed();
  t0 = performance.now();
  for (let i = 0; i < proposals; i++) {
    leader.propose(payload);
    // Batching: a Ready is handled every 64 proposals, as a busy replica loop would.
    if (i % 64 === 63) {
      c.drain();
      c.deliver();
    }
  }
  c.drain();
  c.deliver();
  c.tick();
  const commitSecs = (performance.now() - t0) / 1000;
  const done = c.committed() - base;
  console.log(`raft core, 3 nodes in memory (node ${process.version})`);
  console.log(`  idle cluster: ${Math.round((ticks * ids.length) / tickSecs).toLocaleString()} node-ticks/s (${ticks.toLocaleString()} rounds with heartbeats)`);
  console.log(`  under load:   ${Math.round(done / commitSecs).toLocaleString()} commits/s (${done.toLocaleString()} entries of 64 bytes, batches of 64)`);
}

bench();
