// Bytes on the log and in snapshots. JSON with object keys sorted at every level, so equal
// values always give equal bytes: replicas can compare snapshots byte for byte, and a
// snapshot's hash identifies a state. Decoding treats the bytes as hostile: bounded size,
// strict shape, unknown fields refused.
import type { Command } from './commands.ts';
import { checkCommandShape } from './commands.ts';
import { check } from './schema.ts';
import type { ValidationError } from './schema.ts';
import { STATE_SHAPE } from './shapes.ts';
import type { ConfigState } from './state.ts';
import { userKey } from './state.ts';

/** One users.import of 20 000 users fits comfortably; anything larger is not a command. */
export const MAX_COMMAND_BYTES = 64 * 1024 * 1024;
export const SNAPSHOT_VERSION = 1;

export class ConfigDecodeError extends Error {
  readonly errors: readonly ValidationError[];
  constructor(what: string, errors: readonly ValidationError[]) {
    const first = errors[0];
    super(`invalid ${what}: ${first ? `${first.path || '(root)'} ${first.message}` : 'unreadable'}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ''}`);
    this.name = 'ConfigDecodeError';
    this.errors = errors;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON with sorted keys at every level; the one serialization of config values. */
export function canonicalJson(value: unknown): string {
  // Copy with sorted keys, then one native stringify: about twice as fast as a replacer.
  return JSON.stringify(sortedCopy(value));
}

function sortedCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(sortedCopy);
  // A null-prototype copy keeps a "__proto__" key an ordinary key.
  const out = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value).sort()) out[key] = sortedCopy((value as Record<string, unknown>)[key]);
  return out;
}

export function encodeCommand(command: Command): Uint8Array {
  return encoder.encode(canonicalJson(command));
}

/**
 * A committed entry: checked for structure only. Its policy (bounds, patterns) was checked when
 * it was proposed, by the code version of that time; re-checking it under today's rules would
 * make replay depend on the version doing it.
 */
export function decodeCommand(bytes: Uint8Array): Command {
  const value = parseJson(bytes, MAX_COMMAND_BYTES, 'command');
  const errors = checkCommandShape(value, 'structure');
  if (errors.length > 0) throw new ConfigDecodeError('command', errors);
  return value as Command;
}

export function encodeSnapshot(state: ConfigState): Uint8Array {
  return encoder.encode(canonicalJson({ version: SNAPSHOT_VERSION, state }));
}

export function decodeSnapshot(bytes: Uint8Array): ConfigState {
  const value = parseJson(bytes, Number.MAX_SAFE_INTEGER, 'snapshot') as { version?: unknown; state?: unknown } | null;
  if (value === null || typeof value !== 'object' || value.version !== SNAPSHOT_VERSION) {
    throw new ConfigDecodeError('snapshot', [{ path: 'version', message: `must be ${SNAPSHOT_VERSION}; this snapshot was written by another Ferry version` }]);
  }
  // Structure only, like committed commands: a snapshot an older version wrote must load.
  const errors = check(STATE_SHAPE, value.state, 'state', 'structure');
  if (errors.length === 0) errors.push(...checkKeys(value.state as ConfigState));
  if (errors.length > 0) throw new ConfigDecodeError('snapshot', errors);
  return value.state as ConfigState;
}

/** Every record is keyed by its entity's identity, as `apply` keys it. */
function checkKeys(state: ConfigState): ValidationError[] {
  const errors: ValidationError[] = [];
  const expect = (path: string, key: string, wanted: string) => {
    if (key !== wanted) errors.push({ path: `${path}.${key}`, message: `is keyed '${key}' but holds '${wanted}'` });
  };
  for (const [key, site] of Object.entries(state.sites)) expect('state.sites', key, site.id);
  for (const [key, vfs] of Object.entries(state.vfs)) expect('state.vfs', key, vfs.id);
  for (const [key, user] of Object.entries(state.users)) expect('state.users', key, userKey(user.siteId, user.username));
  return errors;
}

function parseJson(bytes: Uint8Array, max: number, what: string): unknown {
  if (bytes.byteLength > max) {
    throw new ConfigDecodeError(what, [{ path: '', message: `is ${bytes.byteLength} bytes; the limit is ${max}` }]);
  }
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (error) {
    throw new ConfigDecodeError(what, [{ path: '', message: `is not UTF-8 JSON: ${(error as Error).message}` }]);
  }
}
