// A hand-wired network of RawNodes for unit tests: Readies are persisted to MemoryStorage and
// their messages collected; tests choose what to deliver and what to drop.
import assert from 'node:assert/strict';
import { MemoryStorage, RawNode, seededRandom } from '../../../../cluster/raft/index.ts';
import type { ConfState, Message, RaftConfig } from '../../../../cluster/raft/index.ts';

export class Net {
  nodes = new Map<string, RawNode>();
  storage = new Map<string, MemoryStorage>();
  outbox: Message[] = [];
  constructor(ids: string[], extra: Partial<RaftConfig> = {}, conf: ConfState = { voters: ids, learners: [] }) {
    ids.forEach((id, i) => {
      const s = new MemoryStorage(conf);
      this.storage.set(id, s);
      this.nodes.set(id, new RawNode({ id, storage: s, random: seededRandom(i + 1), preVote: false, checkQuorum: false, ...extra }));
    });
  }
  n(id: string): RawNode {
    return this.nodes.get(id) as RawNode;
  }
  /** Handles Readies (persist, collect messages, advance) of every node. */
  flush(): void {
    for (const [id, node] of this.nodes) {
      while (node.hasReady()) {
        const rd = node.ready();
        const s = this.storage.get(id) as MemoryStorage;
        if (rd.snapshot) s.applySnapshot(rd.snapshot);
        s.append(rd.entries);
        if (rd.hardState) s.setHardState(rd.hardState);
        this.outbox.push(...rd.messages);
        node.advance();
      }
    }
  }
  take(pred: (m: Message) => boolean = () => true): Message[] {
    this.flush();
    const out = this.outbox.filter(pred);
    this.outbox = this.outbox.filter((m) => !pred(m));
    return out;
  }
  /** Delivers everything until quiet, except messages `drop` rejects. */
  settle(drop: (m: Message) => boolean = () => false): void {
    for (let i = 0; i < 100; i++) {
      const ms = this.take();
      if (ms.length === 0) return;
      for (const m of ms) if (!drop(m)) this.n(m.to).step(m);
    }
  }
  elect(id: string): void {
    this.n(id).campaign();
    this.settle();
    assert.equal(this.n(id).status().role, 'leader');
  }
}

