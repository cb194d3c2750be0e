// The simulated network: every message sent is queued with a delivery round; the scheduler
// delivers due messages in a random order (reordering), and faults act at send time (loss,
// duplication, delay) or at delivery time (partitions, including one-way cuts).
import type { Message, NodeId } from '../../../cluster/raft/index.ts';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  /** Extra rounds of delay: uniform in [0, maxDelay]. */
  maxDelay: number;
  /** Probability that a message is held back much longer (up to longDelay rounds). */
  longDelayChance: number;
  longDelay: number;
}

export const calm: NetworkFaults = { loss: 0, duplicate: 0, maxDelay: 0, longDelayChance: 0, longDelay: 0 };

interface InFlight {
  msg: Message;
  due: number;
}

export class Network {
  faults: NetworkFaults = { ...calm };
  #queue: InFlight[] = [];
  /** Directed links that drop everything: `${from}>${to}`. */
  #cut = new Set<string>();
  #rand: () => number;
  sent = 0;
  delivered = 0;

  constructor(rand: () => number) {
    this.#rand = rand;
  }

  send(msg: Message, now: number): void {
    this.sent++;
    const f = this.faults;
    if (f.loss > 0 && this.#rand() < f.loss) return;
    const copies = f.duplicate > 0 && this.#rand() < f.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = 1 + (f.maxDelay > 0 ? Math.floor(this.#rand() * (f.maxDelay + 1)) : 0);
      if (f.longDelayChance > 0 && this.#rand() < f.longDelayChance) delay += Math.floor(this.#rand() * f.longDelay);
      this.#queue.push({ msg, due: now + delay });
    }
  }

  /** Removes and returns the messages due by `now`, shuffled (delivery order is not send order). */
  takeDue(now: number): Message[] {
    const due: InFlight[] = [];
    const rest: InFlight[] = [];
    for (const f of this.#queue) (f.due <= now ? due : rest).push(f);
    if (due.length === 0) return [];
    this.#queue = rest;
    const out = due.map((f) => f.msg);
    if (this.faults.maxDelay > 0 || this.faults.longDelayChance > 0) {
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(this.#rand() * (i + 1));
        [out[i], out[j]] = [out[j] as Message, out[i] as Message];
      }
    }
    return out;
  }

  /** Scripted scenarios drop chosen messages (say, appends carrying a given index). */
  drop: ((m: Message) => boolean) | undefined;

  /** Whether a message may pass right now. */
  passes(m: Message): boolean {
    if (this.drop?.(m) === true) return false;
    return this.#cut.size === 0 || !this.#cut.has(`${m.from}>${m.to}`);
  }

  cut(from: NodeId, to: NodeId): void {
    this.#cut.add(`${from}>${to}`);
  }

  /** Cuts both directions between every node of `side` and every node outside it. */
  partition(side: readonly NodeId[], all: readonly NodeId[]): void {
    for (const a of side) {
      for (const b of all) {
        if (side.includes(b)) continue;
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  isolate(id: NodeId, all: readonly NodeId[]): void {
    this.partition([id], all);
  }

  heal(): void {
    this.#cut.clear();
    this.drop = undefined;
  }

  pending(): number {
    return this.#queue.length;
  }

  clear(): void {
    this.#queue = [];
  }
}
