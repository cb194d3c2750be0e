// Shell-style wildcard expansion over a Session's view of the storage, for protocols whose peers
// expect the server to expand (legacy SCP: OpenSSH's `scp -f 'dir/f*'` relies on the remote
// shell). Only Session.list is used, so confinement, virtual folders and the dirList permission
// apply as to any listing. POSIX sh pathname expansion (XCU 2.13): `*`, `?`, `[...]` with `!`/`^`
// negation and ranges, `\` quoting the next character; names starting with `.` only match a
// segment that starts with a literal `.`; results sorted. Not supported, refused with a message:
// POSIX character classes (`[:alpha:]`, `[=a=]`, `[.a.]`). Not expanded (taken literally): brace
// expansion, `**`, extended globs and `~`, which are shell features beyond pathname expansion.
//
// Matching is the two-pointer wildcard algorithm: O(name x pattern) per name, never exponential.
import type { EntryInfo } from '../vfs/vfs.ts';
import { FerryError, isFerryError } from './errors.ts';

/** Bounds on what one pattern may cost: directories listed and paths produced. */
export const GLOB_LIMITS = { maxListings: 1_000, maxMatches: 10_000 } as const;

type Token =
  | { readonly t: 'char'; readonly c: string }
  | { readonly t: 'any' }
  | { readonly t: 'star' }
  | { readonly t: 'set'; readonly negate: boolean; readonly ranges: readonly (readonly [string, string])[] };

function unsupported(pattern: string): FerryError {
  return new FerryError('unsupported', 'character classes such as [:alpha:] are not supported in wildcards; list the characters, e.g. [a-z]', { detail: pattern });
}

/** Parses `[...]` starting at `chars[start]` ('['); undefined when it does not close (then '[' is literal). */
function parseSet(chars: readonly string[], start: number, pattern: string): { token: Token; end: number } | undefined {
  let i = start + 1;
  const negate = chars[i] === '!' || chars[i] === '^';
  if (negate) i++;
  const members: string[] = [];
  const ranges: [string, string][] = [];
  let first = true;
  for (; i < chars.length; i++) {
    let c = chars[i]!;
    if (c === ']' && !first) return { token: { t: 'set', negate, ranges: [...ranges, ...members.map((m) => [m, m] as [string, string])] }, end: i };
    first = false;
    if (c === '[' && ':=.'.includes(chars[i + 1] ?? '')) throw unsupported(pattern);
    if (c === '\\' && i + 1 < chars.length) c = chars[++i]!;
    if (chars[i + 1] === '-' && chars[i + 2] !== undefined && chars[i + 2] !== ']') {
      let to = chars[i + 2]!;
      i += 2;
      if (to === '\\' && i + 1 < chars.length) to = chars[++i]!;
      ranges.push([c, to]);
    } else {
      members.push(c);
    }
  }
  return undefined;
}

function parseSegment(segment: string): Token[] {
  const chars = [...segment];
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) tokens.push({ t: 'char', c: chars[++i]! });
    else if (c === '*') {
      if (tokens.at(-1)?.t !== 'star') tokens.push({ t: 'star' });
    } else if (c === '?') tokens.push({ t: 'any' });
    else if (c === '[') {
      const set = parseSet(chars, i, segment);
      if (set) {
        tokens.push(set.token);
        i = set.end;
      } else tokens.push({ t: 'char', c });
    } else tokens.push({ t: 'char', c });
  }
  return tokens;
}

function matchesOne(token: Token, c: string): boolean {
  switch (token.t) {
    case 'char':
      return token.c === c;
    case 'any':
      return true;
    case 'set':
      return token.ranges.some(([from, to]) => c >= from && c <= to) !== token.negate;
    case 'star':
      return false;
  }
}

function matches(tokens: readonly Token[], name: string): boolean {
  const chars = [...name];
  // A leading dot is matched only by a literal dot, as in the shell.
  if (chars[0] === '.' && !(tokens[0]?.t === 'char' && tokens[0].c === '.')) return false;
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < chars.length) {
    const token = tokens[p];
    if (token?.t === 'star') {
      starP = p++;
      starN = n;
    } else if (token && matchesOne(token, chars[n]!)) {
      p++;
      n++;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (tokens[p]?.t === 'star') p++;
  return p === tokens.length;
}

function isLiteral(tokens: readonly Token[]): boolean {
  return tokens.every((token) => token.t === 'char');
}

function join(dir: string, name: string): string {
  if (dir === '') return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export interface GlobResult {
  /** Matching paths, sorted; empty when nothing matched (a shell then keeps the word as it is). */
  readonly paths: string[];
  /** The first listing that failed for another reason than a missing directory, if any. */
  readonly error: FerryError | undefined;
}

/** The two Session methods expansion uses. */
export interface Lister {
  list(path: string): AsyncIterable<EntryInfo>;
  stat(path: string): Promise<unknown>;
}

/**
 * Expands `pattern` (glob syntax, `\` quotes a character) over `session.list`. Paths keep the
 * pattern's form: relative ones stay relative to the user's root, as the Session resolves them.
 */
export async function expandGlob(session: Lister, pattern: string): Promise<GlobResult> {
  const segments = pattern.split('/');
  let current = [segments[0] === '' ? '/' : ''];
  const cost = { listings: 0, error: undefined as FerryError | undefined };
  let literalAfterWildcard = false;
  let wildcards = false;
  for (const [index, segment] of segments.entries()) {
    if (segment === '') continue;
    const tokens = parseSegment(segment);
    if (isLiteral(tokens)) {
      const literal = tokens.map((token) => (token.t === 'char' ? token.c : '')).join('');
      current = current.map((dir) => join(dir, literal));
      literalAfterWildcard = wildcards;
      continue;
    }
    wildcards = true;
    literalAfterWildcard = false;
    const last = segments.slice(index + 1).every((s) => s === '');
    const next: string[] = [];
    for (const dir of current) {
      await listDir(session, dir, pattern, cost, (entry) => {
        if (entry.name === '.' || entry.name === '..' || !matches(tokens, entry.name)) return;
        // Inner segments must name directories to lead anywhere.
        if (!last && entry.type !== 'dir' && entry.type !== 'symlink') return;
        next.push(join(dir, entry.name));
        if (next.length > GLOB_LIMITS.maxMatches) throw tooMany(pattern);
      });
    }
    current = next;
    if (current.length === 0) break;
  }
  // `*/f` names only the f that exist, as the shell's expansion does.
  if (literalAfterWildcard) current = (await Promise.all(current.map(async (p) => ((await session.stat(p).then(() => true, () => false)) ? [p] : [])))).flat();
  return { paths: current.sort(), error: cost.error };
}

async function listDir(session: Lister, dir: string, pattern: string, cost: { listings: number; error: FerryError | undefined }, onEntry: (entry: EntryInfo) => void): Promise<void> {
  if (++cost.listings > GLOB_LIMITS.maxListings) throw tooMany(pattern);
  try {
    for await (const entry of session.list(dir === '' ? '.' : dir)) onEntry(entry);
  } catch (failure) {
    if (failure instanceof TooBroad) throw failure;
    // As the shell: a directory that cannot be read contributes no matches; a refusal other
    // than a missing directory is kept to explain an expansion that found nothing.
    if (isFerryError(failure) && failure.kind !== 'not-found' && failure.kind !== 'not-a-directory') cost.error ??= failure;
  }
}

class TooBroad extends FerryError {}

function tooMany(pattern: string): FerryError {
  return new TooBroad('invalid-request', `the wildcard matches more than ${GLOB_LIMITS.maxMatches} paths or needs more than ${GLOB_LIMITS.maxListings} listings; narrow it`, { detail: pattern });
}
