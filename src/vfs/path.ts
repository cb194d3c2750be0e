// The one place where paths are normalized and confined. Every protocol hands the Session the
// path as the client sent it; the Session runs it through `normalizeVirtualPath` before anything
// else, and drivers re-check what they receive with `assertDriverPath` (confinement is enforced
// on the name here and again on the storage by each driver).
//
// Virtual paths are POSIX, absolute, "/" is the user's root. Rules:
// - NUL, backslash, C0/C1 control characters and DEL are refused (never "cleaned"): a backslash
//   is a separator on Windows storage and a name on POSIX, so it is ambiguous either way. These
//   character refusals are `name-not-allowed` (clients hear a denial, not "no such file"); the
//   structural ones (length, depth, non-canonical driver paths) stay `invalid-path`.
// - Lone UTF-16 surrogates are refused: Node would write them to disk as U+FFFD, so two distinct
//   client names would reach the same file. Raw protocol bytes go through `decodeClientPath`,
//   which refuses invalid UTF-8 for the same reason.
// - Percent escapes are never decoded: "%2e%2e" is a literal four-character-plus name on disk.
//   (Protocols that define escaping, such as HTTP URLs, decode exactly once before calling in.)
// - "." and empty segments vanish; ".." removes the previous segment and never climbs above "/".
// - Length and depth are bounded so hostile input cannot make later stages quadratic.
import { FerryError } from './errors.ts';

/** Whole virtual path, UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** One segment, UTF-8 bytes (NAME_MAX of common file systems). */
export const MAX_NAME_BYTES = 255;
/** Segments after normalization. */
export const MAX_DEPTH = 128;

// C0 controls, DEL, C1 controls, backslash.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\\]/;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * A name or path from bytes (a client's, or the disk's): undefined for invalid UTF-8, never
 * replaced, so two names cannot decode to one; a leading BOM is kept as part of the name.
 */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function invalid(message: string, detail: string): FerryError {
  return new FerryError('invalid-path', message, { detail });
}

function notAllowed(problem: string, detail: string): FerryError {
  return new FerryError('name-not-allowed', `file name not allowed: ${problem}`, { detail });
}

/** Why the characters of a name or path are refused (see the rules above), or undefined. */
export function characterProblem(text: string): string | undefined {
  const bad = FORBIDDEN.exec(text);
  if (bad) return bad[0] === '\\' ? 'contains a backslash' : 'contains a control character';
  if (!text.isWellFormed()) return 'not valid Unicode';
  return undefined;
}

/** Decodes a path received as bytes (SFTP, SCP); invalid UTF-8 is refused, never replaced. */
export function decodeClientPath(bytes: Uint8Array): string {
  if (bytes.length > MAX_PATH_BYTES * 2) throw invalid('path is too long', `${bytes.length} bytes`);
  const text = decodeUtf8(bytes);
  if (text === undefined) throw notAllowed('not valid UTF-8; rename the file using UTF-8 characters', 'invalid UTF-8');
  return text;
}

function checkCharacters(input: string): void {
  const problem = characterProblem(input);
  if (problem) throw notAllowed(problem, JSON.stringify(input));
}

/**
 * Canonical virtual absolute path for a client path. Relative paths resolve against `cwd`
 * (itself a canonical virtual path, "/" by default). Throws FerryError `invalid-path`.
 */
export function normalizeVirtualPath(input: string, cwd = '/'): string {
  if (typeof input !== 'string') throw invalid('path must be text', typeof input);
  // Cheap bound before any work proportional to the input.
  if (input.length > MAX_PATH_BYTES) throw invalid('path is too long', `${input.length} chars`);
  checkCharacters(input);
  const segments: string[] = input.startsWith('/') ? [] : splitCanonical(cwd);
  for (const segment of input.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) throw invalid('a file name in the path is too long', segment.slice(0, 64));
    segments.push(segment);
    if (segments.length > MAX_DEPTH) throw invalid('path is too deep', `${segments.length} segments`);
  }
  const result = '/' + segments.join('/');
  if (Buffer.byteLength(result) > MAX_PATH_BYTES) throw invalid('path is too long', `${result.length} chars`);
  return result;
}

function splitCanonical(path: string): string[] {
  assertDriverPath(path);
  return path === '/' ? [] : path.slice(1).split('/');
}

/** True when `path` is already canonical (what `normalizeVirtualPath` would return for it). */
export function isCanonicalPath(path: string): boolean {
  if (typeof path !== 'string' || !path.startsWith('/') || path.length > MAX_PATH_BYTES) return false;
  if (path === '/') return true;
  if (FORBIDDEN.test(path) || !path.isWellFormed()) return false;
  const segments = path.slice(1).split('/');
  if (segments.length > MAX_DEPTH) return false;
  return segments.every((s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s) <= MAX_NAME_BYTES);
}

/**
 * Defensive check every driver runs on the paths it receives: they must already be canonical.
 * Anything else means a caller skipped normalization, so it is refused, not repaired.
 */
export function assertDriverPath(path: string): void {
  if (!isCanonicalPath(path)) {
    throw invalid('invalid path', `driver path not canonical: ${JSON.stringify(String(path).slice(0, 200))}`);
  }
}

/** Is `path` equal to `ancestor` or below it? Both canonical. */
export function isWithin(ancestor: string, path: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || path.startsWith(ancestor + '/');
}

/** The path of `path` relative to `ancestor` as a canonical path ("/" when equal). */
export function relativeTo(ancestor: string, path: string): string {
  if (!isWithin(ancestor, path)) throw invalid('invalid path', `${path} is not within ${ancestor}`);
  if (ancestor === '/') return path;
  return path === ancestor ? '/' : path.slice(ancestor.length);
}

/** Joins a canonical directory and a single validated name. */
export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1);
}

/** Why `name` is not usable as one segment of a virtual path, or undefined when it is. */
export function nameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return 'not a file name';
  if (name.includes('/')) return 'contains "/"';
  const problem = characterProblem(name);
  if (problem) return problem;
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/** Is `name` usable as one segment of a virtual path? (Used to filter names found on storage.) */
export function isValidName(name: string): boolean {
  return nameProblem(name) === undefined;
}
