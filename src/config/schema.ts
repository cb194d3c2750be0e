// The one schema language of the config: TypeBox schemas (plain JSON Schema, so the same object
// validates a command before it is proposed, validates REST bodies in fastify, types the
// TypeScript through `Static`, and goes into the OpenAPI document), checked by Ajv.
//
// Every object is strict (`additionalProperties: false`): a command that carries something we do
// not understand must not be half-understood. Every refusal names the field and says what to do.
//
// Two strengths. `policy` (the default) checks everything: types, lengths, patterns, ranges,
// enums; it runs before a command is proposed. `structure` checks only what code relies on to
// read the value safely (types, required fields, no unknown fields) and runs when a committed
// entry is decoded for `apply`: a bound or pattern tightened in a later version must not refuse
// an entry that an older version accepted, or replicas on different versions would reach
// different states. The structure schema is derived from the policy one, so the two cannot drift.
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Type } from 'typebox';
import type { Static, TSchema } from 'typebox';

export interface ValidationError {
  /** Dotted path of the offending field, e.g. `user.virtualFolders[1].path`; '' for the whole. */
  readonly path: string;
  /** What is wrong and what to do about it. */
  readonly message: string;
}

export type Strength = 'policy' | 'structure';

export type { Static, TSchema };

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
const ONE_LINE = '^[^\\u0000-\\u001f\\u007f]*$';
const NO_NUL = '^[^\\u0000]*$';
const ONE_LINE_HINT = 'must be one line without control characters';
const NO_NUL_HINT = 'must not contain NUL characters';

/** Annotation keywords Ferry adds to schemas (Ajv is told they are annotations, not rules). */
const HINT = 'x-hint';
const KINDS = 'x-kinds';

export interface StringRule {
  readonly min?: number;
  readonly max: number;
  /** Single line: no control characters at all. Otherwise only NUL is refused. */
  readonly line?: boolean;
  /** Must exclude control characters itself when `line` is set (it replaces the line rule). */
  readonly pattern?: RegExp;
  /** Says what a valid value looks like, used when `pattern` does not match. */
  readonly hint?: string;
  readonly description?: string;
}

export function str(rule: StringRule) {
  const pattern = rule.pattern?.source ?? (rule.line ? ONE_LINE : NO_NUL);
  const hint = rule.pattern ? (rule.hint ?? `must match ${String(rule.pattern)}`) : rule.line ? ONE_LINE_HINT : NO_NUL_HINT;
  return Type.String({
    minLength: rule.min ?? 0,
    maxLength: rule.max,
    pattern,
    [HINT]: hint,
    ...(rule.description === undefined ? {} : { description: rule.description }),
  });
}

export function int(min: number, max: number, description?: string) {
  return Type.Integer({ minimum: min, maximum: max, ...(description === undefined ? {} : { description }) });
}

export function bool(description?: string) {
  return Type.Boolean(description === undefined ? {} : { description });
}

/** One of `values`; structurally any string (readers of an enum field must handle a value they do not know). */
export function oneOf<const V extends readonly string[]>(values: V, description?: string) {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...(description === undefined ? {} : { description }) });
}

export function arr<T extends TSchema>(item: T, max: number) {
  return Type.Array(item, { maxItems: max });
}

type Fields = Record<string, TSchema>;
type OptionalOf<F extends Fields, O extends keyof F> = { [K in keyof F]: K extends O ? ReturnType<typeof Type.Optional<F[K]>> : F[K] };

/** A strict object: every listed field is required unless named in `optional`; no others. */
export function obj<F extends Fields, O extends keyof F & string = never>(fields: F, optional: readonly O[] = [], description?: string) {
  const properties = Object.fromEntries(
    Object.entries(fields).map(([key, schema]) => [key, (optional as readonly string[]).includes(key) ? Type.Optional(schema) : schema]),
  ) as OptionalOf<F, O>;
  return Type.Object(properties, { additionalProperties: false, ...(description === undefined ? {} : { description }) });
}

/** A record keyed by id whose values all have one shape (used for snapshots). */
export function record<T extends TSchema>(value: T, max: number) {
  return Type.Record(Type.String(), value, { maxProperties: max });
}

/**
 * An object whose `kind` field picks its schema (each one strict). Structurally, an unknown kind
 * is any object with a string `kind`: a newer version may have added it, and its readers must
 * handle it (a VFS of a kind this node lacks is refused at login, not at replay).
 */
export function byKind<S extends Record<string, TSchema>>(schemas: S) {
  const kinds = Object.keys(schemas);
  return Type.Unsafe<Static<S[keyof S]>>({
    type: 'object',
    required: ['kind'],
    properties: { kind: { type: 'string', enum: kinds } },
    allOf: kinds.map((kind) => ({ if: { properties: { kind: { const: kind } }, required: ['kind'] }, then: schemas[kind] })),
    [KINDS]: kinds,
  });
}

/** A field whose value a caller fills in (the command's `type`): a fixed string. */
export function literal<const V extends string>(value: V) {
  return Type.Literal(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

// Policy keywords dropped for `structure` (see the top). `const` stays: it picks a byKind branch.
const POLICY_KEYWORDS = new Set(['minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'maxItems', 'maxProperties', 'enum', HINT]);

function structural(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(structural);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (POLICY_KEYWORDS.has(key)) continue;
    // Names of properties are data, not keywords.
    out[key] = key === 'properties' || key === 'patternProperties' ? mapValues(value as Record<string, unknown>, structural) : structural(value);
  }
  return out;
}

function mapValues(record: Record<string, unknown>, f: (value: unknown) => unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value)]));
}

/** The Ajv instance of the config; fastify's REST validation uses its own with the same options. */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, strictTypes: false, unicodeRegExp: true } as const;

const ajv = new Ajv({ ...AJV_OPTIONS, keywords: [HINT, KINDS] });
const compiled = new WeakMap<object, Partial<Record<Strength, ValidateFunction>>>();

function validator(schema: TSchema, strength: Strength): ValidateFunction {
  let entry = compiled.get(schema);
  if (!entry) compiled.set(schema, (entry = {}));
  let fn = entry[strength];
  if (!fn) {
    fn = ajv.compile(strength === 'policy' ? schema : (structural(schema) as object));
    entry[strength] = fn;
  }
  return fn;
}

/** Checks `value` against `schema`; errors name the field (under `path`) and say what to do. */
export function check(schema: TSchema, value: unknown, path = '', strength: Strength = 'policy'): ValidationError[] {
  const fn = validator(schema, strength);
  if (fn(value)) return [];
  return explain(fn.errors ?? [], path);
}

/** Ajv's errors in Ferry's words, one per offending field, in document order. */
export function explain(errors: readonly ErrorObject[], path = ''): ValidationError[] {
  const out: ValidationError[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const explained = explainOne(error, path);
    if (explained === undefined) continue;
    const key = `${explained.path}\u0000${explained.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(explained);
  }
  return out;
}

function pointerToPath(pointer: string, base: string): string {
  let path = base;
  if (pointer === '') return path;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path = /^(0|[1-9][0-9]*)$/.test(segment) ? fieldPath(path, Number(segment)) : fieldPath(path, segment);
  }
  return path;
}

interface ErrorContext {
  readonly params: Record<string, unknown>;
  readonly schema: Record<string, unknown>;
  readonly data: unknown;
}

function articled(type: string): string {
  return type === 'integer' || type === 'array' || type === 'object' ? `an ${type}` : `a ${type}`;
}

/** Ferry's message per Ajv keyword; `undefined`: the error adds nothing (a branch says what is wrong). */
const MESSAGES: Readonly<Record<string, ((c: ErrorContext) => string) | undefined>> = {
  type: ({ params, data }) => (params.type === 'boolean' ? `must be true or false, got ${kindOf(data)}` : `must be ${articled(String(params.type))}, got ${kindOf(data)}`),
  minLength: ({ params }) => (params.limit === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} characters`),
  maxLength: ({ params, data }) => `must have at most ${String(params.limit)} characters (got ${typeof data === 'string' ? data.length : '?'}); shorten it`,
  pattern: ({ params, schema }) => (typeof schema[HINT] === 'string' ? schema[HINT] : `must match ${String(params.pattern)}`),
  minimum: ({ schema, data }) => `must be between ${String(schema.minimum ?? '-∞')} and ${String(schema.maximum ?? '∞')} (got ${String(data)})`,
  maximum: ({ schema, data }) => `must be between ${String(schema.minimum ?? '-∞')} and ${String(schema.maximum ?? '∞')} (got ${String(data)})`,
  enum: ({ params, data }) => `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')} (got ${typeof data === 'string' ? `'${data.slice(0, 64)}'` : kindOf(data)})`,
  const: ({ params }) => `must be '${String(params.allowedValue)}'`,
  maxItems: ({ params, data }) => `must have at most ${String(params.limit)} entries (got ${Array.isArray(data) ? data.length : '?'}); split the change`,
  maxProperties: ({ params }) => `must have at most ${String(params.limit)} entries`,
};

const SILENT = new Set(['if', 'anyOf', 'oneOf']);

function explainOne(error: ErrorObject, base: string): ValidationError | undefined {
  if (SILENT.has(error.keyword)) return undefined;
  const path = pointerToPath(error.instancePath, base);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') return { path: fieldPath(path, String(params.missingProperty)), message: 'is required' };
  const schema = (error.parentSchema ?? {}) as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    const known = Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {});
    return { path: fieldPath(path, String(params.additionalProperty)), message: `is not a known field; remove it (known: ${known.join(', ')})` };
  }
  const message = MESSAGES[error.keyword];
  return { path, message: message ? message({ params, schema, data: error.data }) : (error.message ?? `fails ${error.keyword}`) };
}
