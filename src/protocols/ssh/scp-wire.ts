// The legacy SCP (rcp) wire protocol as OpenSSH's `scp -O` speaks it (scp.c `source`/`sink`):
// the exec command line and the C/D/E/T control records. Pure parsers over hostile input: each
// is bounded and either returns a value or throws ScpProtocolError with a message for the peer.
//
//   C<mode> <size> <name>\n   file follows: <size> bytes, then one status byte
//   D<mode> 0 <name>\n        enter directory (recursive mode only)
//   E\n                       leave directory
//   T<mtime> <musec> <atime> <ausec>\n   times for the next C/D record (-p)
//   \x01<message>\n warning, \x02<message>\n fatal error, \x00 ok

export class ScpProtocolError extends Error {
  override readonly name = 'ScpProtocolError';
}

/** Longer than any legitimate record (OpenSSH's own buffer is 2048); bounds memory per line. */
export const MAX_RECORD_LENGTH = 4096;
export const MAX_NAME_LENGTH = 255;
/** Directory nesting an upload may create. */
export const MAX_DEPTH = 64;

export interface ScpCommand {
  readonly mode: 'sink' | 'source';
  readonly recursive: boolean;
  readonly preserve: boolean;
  /** `-d`: the target must be a directory. */
  readonly targetIsDir: boolean;
  readonly paths: readonly string[];
  /**
   * Per path, its wildcard pattern when it holds unquoted wildcards (ShellWord.glob): a download
   * expands it over the Session as the remote shell of OpenSSH's scp would. An upload target is
   * always taken literally.
   */
  readonly globs: readonly (string | undefined)[];
}

export interface ShellWord {
  /** The word as the program would receive it: quotes removed, nothing expanded. */
  readonly text: string;
  /**
   * Present when the word holds an unquoted `*`, `?` or `[`, which a shell would expand: the
   * word in glob syntax, every quoted or escaped character that is special to globs escaped
   * with `\` (session/glob.ts reads it).
   */
  readonly glob?: string;
}

const GLOB_SPECIAL = '*?[]\\';

/**
 * Splits a command line the way a POSIX shell would for plain words, quotes and backslashes,
 * and nothing else: no variables, no command substitution (there is no shell). Which characters
 * were quoted is kept, so that pathname expansion (done over the Session, not by a shell) sees
 * `'f*'` and `f\*` as literal names and `f*` as a pattern.
 */
export function shellWords(line: string): ShellWord[] {
  const words: ShellWord[] = [];
  let word: { text: string; glob: string; wild: boolean } | undefined;
  let quote: '"' | "'" | undefined;
  const add = (c: string, quoted: boolean): void => {
    word ??= { text: '', glob: '', wild: false };
    word.text += c;
    word.glob += quoted && GLOB_SPECIAL.includes(c) ? `\\${c}` : c;
    if (!quoted && '*?['.includes(c)) word.wild = true;
  };
  const end = (): void => {
    if (word) words.push(word.wild ? { text: word.text, glob: word.glob } : { text: word.text });
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else add(c, true);
    } else if (quote === '"') {
      // Inside double quotes a backslash escapes only $ ` " and itself.
      if (c === '"') quote = undefined;
      else if (c === '\\' && '$`"\\'.includes(line[i + 1] ?? 'x')) add(line[++i]!, true);
      else add(c, true);
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new ScpProtocolError('command ends with a backslash');
      add(line[++i]!, true);
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= { text: '', glob: '', wild: false };
    } else if (c === ' ' || c === '\t') {
      end();
    } else {
      add(c, false);
    }
  }
  if (quote) throw new ScpProtocolError('unterminated quote in command');
  end();
  return words;
}

/** The words of a command line, quotes removed (see shellWords). */
export function splitWords(line: string): string[] {
  return shellWords(line).map((word) => word.text);
}

/** Parses `scp [-r] [-p] [-d] [-v] -t|-f [--] path...`; anything else is not SCP. */
export function parseScpCommand(command: string): ScpCommand {
  if (command.length > MAX_RECORD_LENGTH) throw new ScpProtocolError('command line too long');
  if (/[\0\r\n]/.test(command)) throw new ScpProtocolError('control characters in command line');
  const shell = shellWords(command);
  const words = shell.map((word) => word.text);
  if (words[0] !== 'scp') throw new ScpProtocolError('not an scp command');
  let mode: ScpCommand['mode'] | undefined;
  let recursive = false;
  let preserve = false;
  let targetIsDir = false;
  let i = 1;
  for (; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;
    for (const flag of word.slice(1)) {
      if (flag === 't') mode = 'sink';
      else if (flag === 'f') mode = 'source';
      else if (flag === 'r') recursive = true;
      else if (flag === 'p') preserve = true;
      else if (flag === 'd') targetIsDir = true;
      else if (flag !== 'v' && flag !== 'q') throw new ScpProtocolError(`unsupported scp option -${flag}`);
    }
  }
  if (!mode) throw new ScpProtocolError('scp needs -t (upload) or -f (download)');
  const paths = words.slice(i).map((p) => (p === '' ? '.' : p));
  const globs = mode === 'source' ? shell.slice(i).map((word) => word.glob) : paths.map(() => undefined);
  if (paths.length === 0) {
    paths.push('.');
    globs.push(undefined);
  }
  if (mode === 'sink' && paths.length !== 1) throw new ScpProtocolError('upload takes exactly one target');
  for (const path of paths) if (path.length > 4096 || path.includes('\0')) throw new ScpProtocolError('invalid path');
  return { mode, recursive, preserve, targetIsDir, paths, globs };
}

export type ScpRecord =
  | { readonly type: 'file'; readonly mode: number; readonly size: number; readonly name: string }
  | { readonly type: 'dir'; readonly mode: number; readonly name: string }
  | { readonly type: 'end' }
  | { readonly type: 'times'; readonly mtimeMs: number; readonly atimeMs: number }
  | { readonly type: 'warning' | 'error'; readonly message: string };

/** A single path segment from the peer: never a separator, `.`/`..`, NUL or control character. */
export function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..') throw new ScpProtocolError(`unexpected filename: "${name}"`);
  if (name.length > MAX_NAME_LENGTH) throw new ScpProtocolError('filename too long');
  if (/[/\\\0-\x1f\x7f]/.test(name)) throw new ScpProtocolError(`unexpected filename: ${JSON.stringify(name)}`);
  return name;
}

function parseMode(text: string): number {
  if (!/^[0-7]{4}$/.test(text)) throw new ScpProtocolError(`bad mode "${text.slice(0, 8)}"`);
  return Number.parseInt(text, 8) & 0o7777;
}

function parseDecimal(text: string, what: string, max: number): number {
  if (!/^\d{1,16}$/.test(text)) throw new ScpProtocolError(`bad ${what}`);
  const value = Number(text);
  if (value > max) throw new ScpProtocolError(`${what} out of range`);
  return value;
}

// The largest file size we accept: exact in a JS number.
const MAX_SIZE = Number.MAX_SAFE_INTEGER;
// Seconds since the epoch that still make a valid Date.
const MAX_SECONDS = 8_640_000_000_000;

/** Parses one record line (without its trailing newline). */
export function parseRecord(line: string): ScpRecord {
  if (line.length > MAX_RECORD_LENGTH) throw new ScpProtocolError('record too long');
  const kind = line[0];
  const rest = line.slice(1);
  switch (kind) {
    case '\x01':
      return { type: 'warning', message: rest };
    case '\x02':
      return { type: 'error', message: rest };
    case 'E':
      if (rest !== '') throw new ScpProtocolError('bad E record');
      return { type: 'end' };
    case 'T': {
      const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(rest);
      if (!m) throw new ScpProtocolError('mtime.sec not delimited');
      const mtime = parseDecimal(m[1]!, 'mtime.sec', MAX_SECONDS);
      const mtimeUsec = parseDecimal(m[2]!, 'mtime.usec', 999_999);
      const atime = parseDecimal(m[3]!, 'atime.sec', MAX_SECONDS);
      const atimeUsec = parseDecimal(m[4]!, 'atime.usec', 999_999);
      return { type: 'times', mtimeMs: mtime * 1000 + Math.floor(mtimeUsec / 1000), atimeMs: atime * 1000 + Math.floor(atimeUsec / 1000) };
    }
    case 'C':
    case 'D': {
      const m = /^(\S+) (\S+) (.*)$/s.exec(rest);
      if (!m) throw new ScpProtocolError(`bad ${kind} record`);
      const mode = parseMode(m[1]!);
      const size = parseDecimal(m[2]!, 'size', MAX_SIZE);
      const name = checkName(m[3]!);
      return kind === 'C' ? { type: 'file', mode, size, name } : { type: 'dir', mode, name };
    }
    default:
      throw new ScpProtocolError(`expected control record, got ${JSON.stringify(line.slice(0, 16))}`);
  }
}

/** A C/D record for a download; the name is the base name as stored. */
export function formatEntry(type: 'file' | 'dir', mode: number, size: number, name: string): string {
  const octal = (mode & 0o7777).toString(8).padStart(4, '0');
  return type === 'file' ? `C${octal} ${size} ${name}\n` : `D${octal} 0 ${name}\n`;
}

export function formatTimes(mtimeMs: number, atimeMs: number): string {
  return `T${Math.floor(mtimeMs / 1000)} 0 ${Math.floor(atimeMs / 1000)} 0\n`;
}

/** A status line for the peer: warning (\x01, transfer goes on) or fatal (\x02). One line. */
export function formatStatus(level: 'warning' | 'error', message: string): string {
  return (level === 'warning' ? '\x01' : '\x02') + 'scp: ' + message.replace(/[\r\n]+/g, ' ').slice(0, 1024) + '\n';
}
