// The leader's view of one follower (etcd raft tracker/progress.go and inflights.go).
// probe: one append in flight until the follower answers, to find where logs match;
// replicate: optimistic pipelining, bounded by `inflights` (flow control);
// snapshot: a snapshot is on its way, appends wait.
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded queue of the last index of each append in flight, oldest first. */
export class Inflights {
  readonly capacity: number;
  #buf: number[];
  #start = 0;
  #count = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#buf = new Array<number>(capacity).fill(0);
  }

  add(lastIndex: number): void {
    if (this.full()) throw new Error('raft: inflights overflow');
    this.#buf[(this.#start + this.#count) % this.capacity] = lastIndex;
    this.#count++;
  }

  /** Frees every in-flight append whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    while (this.#count > 0 && (this.#buf[this.#start] as number) <= index) {
      this.#start = (this.#start + 1) % this.capacity;
      this.#count--;
    }
  }

  full(): boolean {
    return this.#count >= this.capacity;
  }

  count(): number {
    return this.#count;
  }

  reset(): void {
    this.#start = 0;
    this.#count = 0;
  }
}

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = 'probe';
  /** Index of the snapshot in flight (state 'snapshot'). */
  pendingSnapshot = 0;
  /** Ticks since the snapshot was sent; a lost snapshot is retried after an election timeout. */
  snapshotTicks = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** In probe state: an append is in flight, wait for its answer or the next heartbeat. */
  probeSent = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
    this.isLearner = isLearner;
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.#resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.#resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.#resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.#resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** Records an append of `count` entries just sent. */
  sentEntries(count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next += count;
        this.inflights.add(this.next - 1);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** The follower acknowledged up to `index`; false when that tells us nothing new. */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.probeSent = false;
    return true;
  }

  /**
   * The follower rejected an append at `rejected`; `matchHint` is where it may match. False
   * when the rejection is stale (an answer to an append we no longer care about).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.full();
    return true;
  }
}
