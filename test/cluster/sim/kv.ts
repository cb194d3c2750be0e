// The replicated state machine the simulator runs: a key-value map with put and
// compare-and-set, and exactly-once application of each client operation (duplicated or
// re-proposed operations are recognised by id), which is what makes a history checkable.
import type { Entry } from '../../../cluster/raft/index.ts';

export interface KvCommand {
  /** Unique operation id; applied at most once. */
  id: number;
  kind: 'put' | 'cas';
  key: string;
  value: string;
  expected?: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): KvCommand | undefined {
  if (data.byteLength === 0 || data[0] !== 0x7b) return undefined; // not a KV command
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export class KvStore {
  map = new Map<string, string>();
  /** Operation id -> result (cas: swapped?). */
  results = new Map<number, boolean>();

  /** Applies one committed entry; the operation id it completed, if any. */
  apply(e: Entry): KvCommand | undefined {
    if (e.type !== 'normal') return undefined;
    const c = decodeCommand(e.data);
    if (c === undefined || this.results.has(c.id)) return undefined;
    let ok = true;
    if (c.kind === 'put') this.map.set(c.key, c.value);
    else {
      ok = this.map.get(c.key) === c.expected;
      if (ok) this.map.set(c.key, c.value);
    }
    this.results.set(c.id, ok);
    return c;
  }

  // The StateMachine contract of cluster/replica, so the simulator drives the replica's loop.
  snapshot(): Uint8Array {
    return this.serialize();
  }

  restore(data: Uint8Array): void {
    const restored = KvStore.restore(data);
    this.map = restored.map;
    this.results = restored.results;
  }

  serialize(): Uint8Array {
    return encoder.encode(JSON.stringify({ map: [...this.map], results: [...this.results] }));
  }

  static restore(data: Uint8Array): KvStore {
    const kv = new KvStore();
    if (data.byteLength === 0) return kv;
    const raw = JSON.parse(decoder.decode(data)) as { map: [string, string][]; results: [number, boolean][] };
    kv.map = new Map(raw.map);
    kv.results = new Map(raw.results);
    return kv;
  }
}
