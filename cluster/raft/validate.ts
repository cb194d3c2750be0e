// Structural checks on a message from the network before it reaches the state machine. The
// transport decodes bytes into a Message; this is where a malformed or hostile one is refused
// instead of corrupting the log or crashing the node.
import { decodeConfChange } from './confchange.ts';
import type { Entry, Message, MessageType } from './types.ts';

const networkTypes: ReadonlySet<MessageType> = new Set<MessageType>([
  'propose', 'append', 'append-resp', 'vote', 'vote-resp', 'pre-vote', 'pre-vote-resp', 'snapshot',
  'heartbeat', 'heartbeat-resp', 'transfer-leader', 'timeout-now', 'read-index', 'read-index-resp',
]);

/** Requests a follower forwards to its leader unchanged, which carry no term. */
const termless: ReadonlySet<MessageType> = new Set<MessageType>(['propose', 'read-index', 'transfer-leader']);

function isIndex(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Why `m` is malformed, or undefined when it is well formed. */
export function validateMessage(m: Message): string | undefined {
  if (typeof m !== 'object' || m === null) return 'not an object';
  if (!networkTypes.has(m.type)) return `type ${String(m.type)} is not a network message`;
  if (typeof m.from !== 'string' || m.from === '' || typeof m.to !== 'string') return 'bad from/to';
  if (!isIndex(m.term) || !isIndex(m.logTerm) || !isIndex(m.index) || !isIndex(m.commit) || !isIndex(m.rejectHint)) {
    return 'term and index fields must be non-negative safe integers';
  }
  if (typeof m.reject !== 'boolean' || typeof m.context !== 'string') return 'bad reject/context';
  if ((m.term === 0) !== termless.has(m.type)) return `${m.type} with term ${m.term}`;
  if (!Array.isArray(m.entries)) return 'entries must be an array';
  if (m.type === 'append') return validateAppendEntries(m);
  if (m.type === 'propose') return validateProposal(m.entries);
  if (m.entries.length > 0) return `${m.type} cannot carry entries`;
  if (m.type === 'snapshot') return validateSnapshot(m);
  return undefined;
}

function validateEntryShape(e: Entry): string | undefined {
  if (typeof e !== 'object' || e === null) return 'entry is not an object';
  if (e.type !== 'normal' && e.type !== 'conf-change') return 'bad entry type';
  if (!(e.data instanceof Uint8Array)) return 'entry data must be bytes';
  return undefined;
}

function validateProposal(entries: readonly Entry[]): string | undefined {
  if (entries.length === 0) return 'empty proposal';
  for (const e of entries) {
    const bad = validateEntryShape(e);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function validateAppendEntries(m: Message): string | undefined {
  let prevTerm = m.logTerm;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i] as Entry;
    const bad = validateEntryShape(e);
    if (bad !== undefined) return bad;
    if (e.index !== m.index + 1 + i) return 'entries are not contiguous after index';
    // Terms never decrease along a log and never exceed the sender's term.
    if (!isIndex(e.term) || e.term < prevTerm || e.term > m.term) return 'entry terms out of order';
    prevTerm = e.term;
    if (e.type === 'conf-change') {
      try {
        decodeConfChange(e.data);
      } catch {
        return 'malformed conf-change entry';
      }
    }
  }
  return undefined;
}

function validateSnapshot(m: Message): string | undefined {
  const s = m.snapshot;
  if (s === undefined || typeof s !== 'object' || s === null || !(s.data instanceof Uint8Array)) return 'snapshot missing';
  const md = s.metadata;
  if (typeof md !== 'object' || md === null || !isIndex(md.index) || !isIndex(md.term) || md.index === 0) return 'bad snapshot metadata';
  if (md.term > m.term) return 'snapshot from the future';
  const cs = md.confState;
  const ids = (v: unknown): boolean => Array.isArray(v) && v.every((id) => typeof id === 'string' && id !== '');
  if (typeof cs !== 'object' || cs === null || !ids(cs.voters) || !ids(cs.learners)) return 'bad snapshot membership';
  return undefined;
}
