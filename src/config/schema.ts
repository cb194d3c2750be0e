// A small strict shape checker for config commands and snapshots. Every field is bounded and an
// unknown field is an error (fastify's `additionalProperties: false` stance): a command that
// carries something we do not understand must not be half-understood. Deterministic and pure.
//
// Two strengths. `policy` (the default) checks everything: types, lengths, patterns, ranges; it
// runs before a command is proposed. `structure` checks only what code relies on to read the
// value safely (types, required fields, no unknown fields) and runs when a committed entry is
// decoded for `apply`: a bound or pattern tightened in a later version must not refuse an entry
// that an older version accepted, or replicas on different versions would reach different states.

export interface ValidationError {
  /** Dotted path of the offending field, e.g. `user.virtualFolders[1].path`; '' for the whole. */
  readonly path: string;
  /** What is wrong and what to do about it. */
  readonly message: string;
}

export type Strength = 'policy' | 'structure';

export type Shape = (value: unknown, path: string, out: ValidationError[], strength: Strength) => void;

export function fieldPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

// Control characters break log lines and SSH identification strings; NUL breaks C APIs.
const CONTROL = /[\u0000-\u001f\u007f]/;
const NUL = /\u0000/;

export interface StringRule {
  readonly min?: number;
  readonly max: number;
  /** Single line: no control characters at all. Otherwise only NUL is refused. */
  readonly line?: boolean;
  readonly pattern?: RegExp;
  /** Says what a valid value looks like, used when `pattern` does not match. */
  readonly hint?: string;
}

export function str(rule: StringRule): Shape {
  const min = rule.min ?? 0;
  return (value, path, out, strength) => {
    if (typeof value !== 'string') {
      out.push({ path, message: `must be a string, got ${kindOf(value)}` });
    } else if (strength === 'structure') {
      return;
    } else if (value.length < min) {
      out.push({ path, message: min === 1 ? 'must not be empty' : `must have at least ${min} characters` });
    } else if (value.length > rule.max) {
      out.push({ path, message: `must have at most ${rule.max} characters (got ${value.length}); shorten it` });
    } else if ((rule.line ? CONTROL : NUL).test(value)) {
      out.push({ path, message: rule.line ? 'must be one line without control characters' : 'must not contain NUL characters' });
    } else if (rule.pattern && !rule.pattern.test(value)) {
      out.push({ path, message: rule.hint ?? `must match ${String(rule.pattern)}` });
    }
  };
}

export function int(min: number, max: number): Shape {
  return (value, path, out, strength) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      out.push({ path, message: `must be an integer, got ${kindOf(value)}` });
    } else if (strength === 'policy' && (value < min || value > max)) {
      out.push({ path, message: `must be between ${min} and ${max} (got ${value})` });
    }
  };
}

export function bool(): Shape {
  return (value, path, out) => {
    if (typeof value !== 'boolean') out.push({ path, message: `must be true or false, got ${kindOf(value)}` });
  };
}

export function oneOf(values: readonly string[]): Shape {
  // Structurally any string: readers of an enum field must handle a value they do not know.
  return (value, path, out, strength) => {
    if (typeof value !== 'string' || (strength === 'policy' && !values.includes(value))) {
      const got = typeof value === 'string' ? `'${value.slice(0, 64)}'` : kindOf(value);
      out.push({ path, message: `must be one of ${values.join(', ')} (got ${got})` });
    }
  };
}

/**
 * An object whose `kind` field picks its shape (each one strict). Structurally, an unknown kind
 * is any object with a string `kind`: a newer version may have added it, and its readers must
 * handle it (a VFS of a kind this node lacks is refused at login, not at replay).
 */
export function byKind(shapes: Readonly<Record<string, Shape>>): Shape {
  const kinds = Object.keys(shapes);
  return (value, path, out, strength) => {
    if (!isPlainObject(value)) {
      out.push({ path, message: `must be an object, got ${kindOf(value)}` });
      return;
    }
    const kind = value.kind;
    if (typeof kind === 'string' && Object.hasOwn(shapes, kind)) return (shapes[kind] as Shape)(value, path, out, strength);
    if (strength === 'policy' || typeof kind !== 'string') {
      const got = typeof kind === 'string' ? `'${kind.slice(0, 64)}'` : kindOf(kind);
      out.push({ path: fieldPath(path, 'kind'), message: `must be one of ${kinds.join(', ')} (got ${got})` });
    }
  };
}

export function arr(item: Shape, max: number): Shape {
  return (value, path, out, strength) => {
    if (!Array.isArray(value)) {
      out.push({ path, message: `must be an array, got ${kindOf(value)}` });
    } else if (strength === 'policy' && value.length > max) {
      out.push({ path, message: `must have at most ${max} entries (got ${value.length}); split the change` });
    } else {
      value.forEach((element, index) => item(element, fieldPath(path, index), out, strength));
    }
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A strict object: every listed field is required unless named in `optional`; no others. */
export function obj(fields: Readonly<Record<string, Shape>>, optional: readonly string[] = []): Shape {
  const known = Object.keys(fields);
  return (value, path, out, strength) => {
    if (!isPlainObject(value)) {
      out.push({ path, message: `must be an object, got ${kindOf(value)}` });
      return;
    }
    for (const key of Object.keys(value)) {
      if (!Object.hasOwn(fields, key)) {
        out.push({ path: fieldPath(path, key), message: `is not a known field; remove it (known: ${known.join(', ')})` });
      }
    }
    for (const key of known) {
      const shape = fields[key] as Shape;
      if (Object.hasOwn(value, key) && value[key] !== undefined) shape(value[key], fieldPath(path, key), out, strength);
      else if (!optional.includes(key)) out.push({ path: fieldPath(path, key), message: 'is required' });
    }
  };
}

/** A record keyed by id whose values all have one shape (used for snapshots). */
export function record(value: Shape, max: number): Shape {
  return (input, path, out, strength) => {
    if (!isPlainObject(input)) {
      out.push({ path, message: `must be an object, got ${kindOf(input)}` });
      return;
    }
    const keys = Object.keys(input);
    if (strength === 'policy' && keys.length > max) out.push({ path, message: `must have at most ${max} entries` });
    else for (const key of keys) value(input[key], fieldPath(path, key), out, strength);
  };
}

export function check(shape: Shape, value: unknown, path = '', strength: Strength = 'policy'): ValidationError[] {
  const out: ValidationError[] = [];
  shape(value, path, out, strength);
  return out;
}
