// Bulk user import from CSV, in the format operators migrating from other MFT servers already
// have: one user per line, five fields
//   username, password, VFS id (or an absolute directory with --makevfs),
//   "comma-separated subsystems", "comma-separated permissions"
// The whole file is checked first and every bad line reported with its number; only a fully
// valid file becomes a plan, and the plan is one users.import command, so the import is
// all-or-nothing. Passwords are hashed here (the proposer), never in apply.
import { parse } from 'csv-parse/sync';
import type { Command } from './commands.ts';
import { isPermission, isSubsystem, PERMISSIONS, SUBSYSTEMS } from './model/permissions.ts';
import type { Permission, Subsystem } from './model/permissions.ts';
import type { User } from './model/user.ts';
import type { VfsProfile } from './model/vfs-profile.ts';
import { LIMITS } from './shapes.ts';
import type { ConfigState } from './state.ts';
import { has, userKey } from './state.ts';
import { diskTargetProblem, USERNAME_PATTERN, validate } from './validate.ts';
import type { NodeFacts } from './validate.ts';

export const MAX_CSV_BYTES = 32 * 1024 * 1024;
const MAX_PASSWORD_BYTES = 1024;
const HASH_CONCURRENCY = 4;

export interface ImportLineError {
  /** 1-based line of the CSV file; 0 for a problem with the whole file or the options. */
  readonly line: number;
  readonly message: string;
}

export interface ImportSummary {
  readonly usernames: readonly string[];
  /** Disk VFS profiles the import creates (--makevfs), one per distinct path. */
  readonly createdVfs: readonly { readonly id: string; readonly target: string }[];
  /** Existing disk VFS profiles reused because their target is exactly the path given. */
  readonly reusedVfs: readonly { readonly id: string; readonly target: string }[];
}

export type ImportPlan =
  | { readonly ok: true; readonly command: Extract<Command, { type: 'users.import' }>; readonly summary: ImportSummary }
  | { readonly ok: false; readonly errors: readonly ImportLineError[] };

export interface ImportInput {
  readonly csv: string;
  readonly siteId: string;
  /** Third field is an absolute directory: create (or reuse) a disk VFS for it. */
  readonly makeVfs: boolean;
  readonly state: ConfigState;
  /** The importing node's own facts: a --makevfs directory is judged against its data directory. */
  readonly facts: NodeFacts;
  readonly hashPassword: (plain: string) => Promise<string>;
  readonly newId: () => string;
  /** Recorded in the command envelope (default `cli:importusers`). */
  readonly actor?: string;
  /** Clock for the envelope timestamp (default Date.now). */
  readonly now?: () => number;
  /**
   * Check only: passwords are not hashed (argon2 costs ~50 ms each) and the command carries
   * empty hashes, so it must not be proposed.
   */
  readonly dryRun?: boolean;
}

interface Row {
  readonly line: number;
  readonly username: string;
  readonly password: string;
  readonly vfs: string;
  readonly subsystems: readonly Subsystem[];
  readonly permissions: readonly Permission[];
}

type LineErrors = ImportLineError[];

export async function planImport(input: ImportInput): Promise<ImportPlan> {
  const errors: LineErrors = [];
  if (!has(input.state.sites, input.siteId)) {
    return { ok: false, errors: [{ line: 0, message: `no virtual site with id '${input.siteId}'; pass the site's id (not its name)` }] };
  }
  if (Buffer.byteLength(input.csv, 'utf8') > MAX_CSV_BYTES) {
    return { ok: false, errors: [{ line: 0, message: `the file is larger than ${MAX_CSV_BYTES} bytes; split it into several imports` }] };
  }
  const rows = readRows(input, errors);
  if (rows.length === 0 && errors.length === 0) errors.push({ line: 0, message: 'the file holds no users' });
  if (rows.length > LIMITS.importUsers) errors.push({ line: 0, message: `the file holds ${rows.length} users; import at most ${LIMITS.importUsers} at a time` });
  if (errors.length > 0) return { ok: false, errors: sorted(errors) };
  return build(input, rows);
}

function readRows(input: ImportInput, errors: LineErrors): Row[] {
  const rows: Row[] = [];
  const firstLine = new Map<string, number>();
  const lines = input.csv.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    const line = i + 1;
    const fields = parseLine(text, line, errors);
    if (!fields) return;
    const row = readRow(fields, line, input, errors);
    if (!row) return;
    const seen = firstLine.get(row.username);
    if (seen !== undefined) {
      errors.push({ line, message: `username '${row.username}' already appears on line ${seen}; keep one of them` });
      return;
    }
    firstLine.set(row.username, line);
    rows.push(row);
  });
  return rows;
}

/** One physical line is one record: a line break inside a field is never valid here. */
function parseLine(text: string, line: number, errors: LineErrors): string[] | undefined {
  let records: string[][];
  try {
    records = parse(text, { relax_column_count: true, max_record_size: 64 * 1024 }) as string[][];
  } catch (error) {
    const reason = (error as Error).message.replace(/ at line \d+/, '');
    errors.push({ line, message: `not valid CSV: ${reason}; double-quote fields that contain commas or spaces` });
    return undefined;
  }
  const fields = records[0];
  if (records.length !== 1 || !fields) {
    errors.push({ line, message: 'not valid CSV: expected one record on the line' });
    return undefined;
  }
  if (fields.length !== 5) {
    errors.push({ line, message: `expected 5 fields (username, password, VFS, subsystems, permissions), found ${fields.length}` });
    return undefined;
  }
  return fields;
}

function readRow(fields: string[], line: number, input: ImportInput, errors: LineErrors): Row | undefined {
  const [username, password, vfs, subsystemList, permissionList] = fields as [string, string, string, string, string];
  const before = errors.length;
  const push = (message: string) => errors.push({ line, message });
  if (!USERNAME_PATTERN.test(username)) {
    push(`username '${clip(username)}' is invalid: use 1-64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, no spaces`);
  } else if (has(input.state.users, userKey(input.siteId, username))) {
    push(`user '${username}' already exists in site '${input.siteId}'; remove the line or delete the user first`);
  }
  if (password === '') push(`user '${clip(username)}' has an empty password; every imported user needs one`);
  else if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) push(`the password is longer than ${MAX_PASSWORD_BYTES} bytes; shorten it`);
  checkVfsField(vfs, input, push);
  const subsystems = readList(subsystemList, 'subsystem', isSubsystem, SUBSYSTEMS, push);
  const permissions = readList(permissionList, 'permission', isPermission, PERMISSIONS, push);
  if (errors.length > before) return undefined;
  return { line, username, password, vfs, subsystems, permissions };
}

function checkVfsField(vfs: string, input: ImportInput, push: (message: string) => void): void {
  if (input.makeVfs) {
    const problem = vfs === '' ? 'is empty; with --makevfs the third field is an absolute directory path' : diskTargetProblem(vfs, input.facts);
    if (problem) push(`home directory '${clip(vfs)}' ${problem}`);
    else if (vfs.length > LIMITS.path) push(`home directory is longer than ${LIMITS.path} characters`);
  } else if (!has(input.state.vfs, vfs)) {
    const hint = vfs.startsWith('/') ? '; to create a VFS for a directory path, import with --makevfs' : '; use the id of an existing VFS';
    push(`no VFS with id '${clip(vfs)}'${hint}`);
  }
}

function readList<T extends string>(
  list: string,
  what: string,
  valid: (name: string) => name is T,
  all: readonly string[],
  push: (message: string) => void,
): T[] {
  const names = list.split(',').map((name) => name.trim());
  if (names.length === 1 && names[0] === '') {
    push(`no ${what}s listed; list at least one of: ${all.join(', ')}`);
    return [];
  }
  const out: T[] = [];
  for (const name of names) {
    if (name === '') push(`the ${what} list has an empty entry; remove the extra comma`);
    else if (!valid(name)) push(`unknown ${what} '${clip(name)}'; valid ${what}s are: ${all.join(', ')}`);
    else if (!out.includes(name)) out.push(name);
  }
  return out;
}

async function build(input: ImportInput, rows: readonly Row[]): Promise<ImportPlan> {
  const { homes, created, reused } = input.makeVfs ? planVfs(input, rows) : { homes: new Map<string, string>(), created: [], reused: [] };
  const hash = input.dryRun ? async () => '' : input.hashPassword;
  const hashes = await hashAll(rows.map((row) => row.password), hash);
  const users: User[] = rows.map((row, i) => ({
    username: row.username,
    siteId: input.siteId,
    enabled: true,
    description: '',
    passwordHash: hashes[i] as string,
    authorizedKeys: [],
    authMethods: ['password'],
    subsystems: row.subsystems,
    permissions: row.permissions,
    homeVfsId: input.makeVfs ? (homes.get(row.vfs) as string) : row.vfs,
    virtualFolders: [],
    permissionOverrides: [],
  }));
  const command: Extract<Command, { type: 'users.import' }> = {
    id: input.newId(),
    at: (input.now ?? Date.now)(),
    actor: input.actor ?? 'cli:importusers',
    type: 'users.import',
    siteId: input.siteId,
    users,
    vfs: created,
  };
  // The plan must be exactly what apply will accept; map any leftover problem to its line.
  const problems = validate(input.state, command, input.facts);
  if (problems.length > 0) {
    const errors = problems.map((problem) => {
      const match = /^users\[(\d+)\]/.exec(problem.path);
      const row = match ? rows[Number(match[1])] : undefined;
      return { line: row?.line ?? 0, message: `${problem.path} ${problem.message}` };
    });
    return { ok: false, errors: sorted(errors) };
  }
  const summary: ImportSummary = {
    usernames: rows.map((row) => row.username),
    createdVfs: created.map((vfs) => ({ id: vfs.id, target: vfs.target })),
    reusedVfs: reused,
  };
  return { ok: true, command, summary };
}

/** One disk VFS per distinct path; an existing disk VFS with exactly that target is reused. */
function planVfs(input: ImportInput, rows: readonly Row[]) {
  const existing = new Map<string, string>();
  for (const vfs of Object.values(input.state.vfs)) if (vfs.kind === 'disk' && !existing.has(vfs.target)) existing.set(vfs.target, vfs.id);
  const homes = new Map<string, string>();
  const created: VfsProfile[] = [];
  const reused: { id: string; target: string }[] = [];
  for (const row of rows) {
    if (homes.has(row.vfs)) continue;
    const id = existing.get(row.vfs);
    if (id) {
      reused.push({ id, target: row.vfs });
      homes.set(row.vfs, id);
    } else {
      const profile: VfsProfile = { id: input.newId(), name: vfsName(row.vfs), kind: 'disk', target: row.vfs };
      created.push(profile);
      homes.set(row.vfs, profile.id);
    }
  }
  return { homes, created, reused };
}

function vfsName(target: string): string {
  return target.length <= LIMITS.name ? target : `…${target.slice(-(LIMITS.name - 1))}`;
}

/** Hashes in order with bounded concurrency (argon2 runs on libuv's thread pool). */
async function hashAll(passwords: readonly string[], hash: (plain: string) => Promise<string>): Promise<string[]> {
  const out: string[] = new Array<string>(passwords.length);
  let next = 0;
  const worker = async () => {
    while (next < passwords.length) {
      const i = next++;
      out[i] = await hash(passwords[i] as string);
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, passwords.length) }, worker));
  return out;
}

function clip(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

function sorted(errors: LineErrors): LineErrors {
  return errors.map((error, order) => ({ error, order })).sort((a, b) => a.error.line - b.error.line || a.order - b.order).map(({ error }) => error);
}
