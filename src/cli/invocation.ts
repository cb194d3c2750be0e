// How the operator ran `ferry`, so that a command line Ferry prints (the first-start hint, "start
// one with ...") runs as printed when pasted into the same shell: the same program, and the data
// directory it used unless that is the default ./data.
import { accessSync, constants, realpathSync } from 'node:fs';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/ferry.js');

/** A word for a POSIX shell: as is when nothing in it is special, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The program part: `npx ferry` under npm (npx in a checkout or a project, `npm start`), `ferry`
 * when that name on the PATH is this very file (npm link, a global install), else this bin by its
 * absolute path, which works from any directory.
 */
export function ferryProgram(env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_command === 'exec' || (env.npm_lifecycle_event === 'start' && env.npm_package_name === 'ferry')) return 'npx ferry';
  const onPath = (env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && sameFile(path.join(dir, 'ferry'), BIN));
  if (onPath) return 'ferry';
  return executable(BIN) ? shellQuote(BIN) : `node ${shellQuote(BIN)}`;
}

/** A whole `ferry COMMAND [--data DIR] ARGS...` line for the data directory `dataDir`. */
export function ferryCommandLine(command: string, args: readonly string[], dataDir: string, cwd = process.cwd()): string {
  const data = path.resolve(cwd, 'data') === path.resolve(dataDir) ? [] : ['--data', path.resolve(dataDir)];
  return [ferryProgram(), ...[command, ...data, ...args].map(shellQuote)].join(' ');
}
