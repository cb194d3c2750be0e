// Commit latency and failover of the production replica (RaftReplica on LevelDB with fsync,
// the mutual-TLS transport on loopback), one process hosting 1 or 3 members:
//  - p50/p99 latency and throughput of small proposals, one at a time and 32 in flight;
//  - with 3 members, the time from the leader's abrupt stop (its transport and timers die at
//    once, as under kill -9) to the first proposal committed through a new leader.
// Run: node bench/cluster.ts [proposals=2000]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Entry } from '../cluster/raft/types.ts';
import { RaftReplica } from '../cluster/replica/raft-replica.ts';
import type { StateMachine } from '../cluster/replica/raft-replica.ts';
import { createClusterCa, issueNodeCertificate } from '../cluster/transport/pki.ts';
import { Transport } from '../cluster/transport/transport.ts';

const PROPOSALS = Number(process.argv[2] ?? 2000);

class Counter implements StateMachine<number> {
  n = 0;
  apply(entry: Entry): number {
    if (entry.type === 'normal' && entry.data.byteLength > 0) this.n++;
    return this.n;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.n));
  }
  restore(data: Uint8Array): void {
    this.n = Number(new TextDecoder().decode(data));
  }
}

interface Member {
  id: string;
  replica: RaftReplica<number>;
  transport: Transport;
}

async function cluster(size: number, root: string): Promise<Member[]> {
  const ids = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const ca = createClusterCa('bench');
  const addresses = new Map<string, string>();
  const members: Member[] = [];
  const byId = new Map<string, Member>();
  for (const id of ids) {
    const cert = issueNodeCertificate(ca, id);
    const transport = await Transport.listen({
      nodeId: id,
      host: '127.0.0.1',
      port: 0,
      tls: { ca: ca.cert, cert: cert.cert + ca.cert, key: cert.key },
      addressOf: (peer) => addresses.get(peer),
      onMessage: (m) => byId.get(id)?.replica.step(m),
      onUnreachable: (peer) => byId.get(id)?.replica.reportUnreachable(peer),
      onSnapshotSent: (peer, ok) => byId.get(id)?.replica.reportSnapshot(peer, ok),
    });
    addresses.set(id, transport.address);
    const replica = await RaftReplica.open({
      dir: path.join(root, id),
      stateMachine: new Counter(),
      nodeId: id,
      bootstrap: { voters: ids, learners: [] },
      send: (messages) => transport.send(messages),
      tickMs: 50,
    });
    const m = { id, replica, transport };
    members.push(m);
    byId.set(id, m);
  }
  return members;
}

async function leaderOf(members: Member[], timeoutMs = 10_000): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = members.find((m) => m.replica.status().role === 'leader');
    if (l) return l;
    if (Date.now() > deadline) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function latency(leader: Member, count: number, inFlight: number): Promise<{ p50: number; p99: number; perSecond: number }> {
  const payload = new TextEncoder().encode('x'.repeat(200));
  const times: number[] = [];
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const start = performance.now();
      await leader.replica.propose(payload);
      times.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), perSecond: count / seconds };
}

async function closeAll(members: readonly Member[]): Promise<void> {
  for (const m of members) {
    await m.transport.close();
    await m.replica.close();
  }
}

/** The leader dies at once (no messages, no timers); seconds until a new leader commits. */
async function failover(members: Member[], leader: Member): Promise<number> {
  const killedAt = performance.now();
  await leader.transport.close();
  void leader.replica.close();
  const rest = members.filter((m) => m !== leader);
  for (;;) {
    const l = rest.find((m) => m.replica.status().role === 'leader');
    if (l) {
      try {
        await l.replica.propose(new Uint8Array([1]));
        return (performance.now() - killedAt) / 1000;
      } catch {
        // not committed yet: try again
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'ferry-bench-cluster-'));
  const lines: string[] = [];
  try {
    for (const size of [1, 3]) {
      const members = await cluster(size, path.join(root, String(size)));
      const leader = await leaderOf(members);
      await latency(leader, 50, 1); // warm up
      for (const inFlight of [1, 32]) {
        const r = await latency(leader, PROPOSALS, inFlight);
        lines.push(`${size} node(s), ${inFlight} in flight: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${Math.round(r.perSecond)} commits/s`);
      }
      if (size === 3) {
        const seconds = await failover(members, leader);
        lines.push(`3 nodes, leader stopped abruptly: first write committed by a new leader after ${seconds.toFixed(2)} s (election timeout 10-20 ticks of 50 ms)`);
        await closeAll(members.filter((m) => m !== leader));
      } else {
        await closeAll(members);
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  for (const line of lines) console.log(line);
}

await main();
