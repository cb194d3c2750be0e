// ReadIndex (Raft thesis §6.4): a leader answers a read with its commit index once a quorum has
// acknowledged a heartbeat sent after the read arrived, proving it was still the leader then.
// Requests are queued in arrival order; a quorum ack for one request confirms all before it.
import type { Message, NodeId } from './types.ts';

export interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

export class ReadOnly {
  #pending = new Map<string, ReadIndexStatus>();
  #queue: string[] = [];

  /** Queues a read at commit index `index`; a context already queued is ignored. */
  add(index: number, req: Message): void {
    if (this.#pending.has(req.context)) return;
    this.#pending.set(req.context, { req, index, acks: new Set() });
    this.#queue.push(req.context);
  }

  /** Records `from`'s ack of the heartbeat carrying `context`; the ackers so far, if queued. */
  recvAck(from: NodeId, context: string): Set<NodeId> | undefined {
    const rs = this.#pending.get(context);
    if (rs === undefined) return undefined;
    rs.acks.add(from);
    return rs.acks;
  }

  /** Removes and returns every request up to and including `context`, oldest first. */
  advance(context: string): ReadIndexStatus[] {
    const at = this.#queue.indexOf(context);
    if (at < 0) return [];
    const done = this.#queue.splice(0, at + 1);
    return done.map((ctx) => {
      const rs = this.#pending.get(ctx) as ReadIndexStatus;
      this.#pending.delete(ctx);
      return rs;
    });
  }

  /** The newest queued context: heartbeats carry it so lost acks are retried. */
  lastPendingContext(): string {
    return this.#queue[this.#queue.length - 1] ?? '';
  }

  reset(): void {
    this.#pending.clear();
    this.#queue = [];
  }
}
