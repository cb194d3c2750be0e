// The current directory of a protocol that keeps one on the server (FTP's CWD/CDUP/PWD, a
// WebClient's folder) and the `~` forms clients send (OpenSSH's expand-path). The Session itself
// takes paths relative to "/": a protocol resolves a client's name here first, then calls it.
import { normalizeVirtualPath } from '../vfs/path.ts';
import { FerryError } from './errors.ts';
import type { Session } from './types.ts';

/**
 * "~", "~/x" and "~<own name>/x" name the user's home, which is the virtual root "/"; "~other"
 * is refused (there is no other user's home to see). "" is the current directory.
 */
export function expandHome(path: string, username: string): string {
  if (!path.startsWith('~')) return path === '' ? '.' : path;
  const slash = path.indexOf('/');
  const who = slash < 0 ? path.slice(1) : path.slice(1, slash);
  if (who !== '' && who !== username) throw new FerryError('not-found', 'no such user', { detail: path.slice(0, 64) });
  return slash < 0 ? '/' : `/${path.slice(slash + 1)}`;
}

export class WorkingDirectory {
  readonly #session: Session;
  #path = '/';

  constructor(session: Session) {
    this.#session = session;
  }

  /** Canonical virtual path of the current directory (PWD). */
  get path(): string {
    return this.#path;
  }

  /** A client's name as the Session takes it: relative names start at the current directory. */
  resolve(name: string): string {
    return normalizeVirtualPath(expandHome(name, this.#session.user.username), this.#path);
  }

  /**
   * Changes to `name` (CWD), which must be a directory the user can reach; the current
   * directory stays as it was when it is not. Returns the new path.
   */
  async change(name: string): Promise<string> {
    const stat = await this.#session.stat(this.resolve(name));
    if (stat.type !== 'dir') throw new FerryError('not-a-directory', 'not a directory', { detail: stat.path });
    this.#path = stat.path;
    return this.#path;
  }

  /** CDUP: the parent of the current directory ("/" stays "/"). */
  up(): Promise<string> {
    return this.change('..');
  }
}
