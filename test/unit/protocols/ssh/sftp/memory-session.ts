// A small in-memory Session for the SFTP handler's unit tests: it lets a test deny operations,
// delay writes and watch the order in which an OpenFile receives them. Permission logic lives in
// the real Session (tested there and end to end with OpenSSH in test/integration/sftp).
import type { TransferInfo } from '../../../../../src/session/transfer.ts';
import type { OpenFile, OpenFlags, Session, SessionStat } from '../../../../../src/session/types.ts';
import { FerryError } from '../../../../../src/session/errors.ts';
import type { User } from '../../../../../src/config/model/user.ts';
import type { EntryInfo, SetStatChanges, SpaceInfo } from '../../../../../src/vfs/vfs.ts';

interface Node {
  type: 'file' | 'dir' | 'symlink';
  data: Buffer;
  mode: number;
  mtimeMs: number;
  target?: string;
}

export interface MemorySessionOptions {
  /** Session method names that throw permission-denied. */
  readonly deny?: readonly string[];
  /** Called before every OpenFile.write resolves; return a delay in ms to reorder completions. */
  readonly writeDelay?: (offset: number) => number;
}

function norm(path: string): string {
  const parts: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}

function parentOf(path: string): string {
  return norm(path + '/..');
}

export class MemorySession implements Session {
  readonly id = 'mem-1';
  readonly user = { username: 'alice' } as User;
  readonly connection = { connectionId: 'c1', siteId: 's1', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2 };
  readonly nodes = new Map<string, Node>([['/', { type: 'dir', data: Buffer.alloc(0), mode: 0o755, mtimeMs: 0 }]]);
  /** Offsets in the order OpenFile.write was called, per path. */
  readonly writes = new Map<string, number[]>();
  openFiles = 0;
  closedFiles = 0;
  readonly #deny: Set<string>;
  readonly #writeDelay: ((offset: number) => number) | undefined;

  constructor(options: MemorySessionOptions = {}) {
    this.#deny = new Set(options.deny ?? []);
    this.#writeDelay = options.writeDelay;
  }

  #check(op: string): void {
    if (this.#deny.has(op)) throw new FerryError('permission-denied', `Permission denied: ${op}`);
  }

  #get(path: string): Node {
    const node = this.nodes.get(norm(path));
    if (!node) throw new FerryError('not-found', 'No such file or directory');
    return node;
  }

  #info(path: string, node: Node): SessionStat {
    const p = norm(path);
    const name = p === '/' ? '/' : (p.split('/').pop() as string);
    return { path: p, name, type: node.type, size: node.data.length, mode: node.mode, mtimeMs: node.mtimeMs, atimeMs: node.mtimeMs };
  }

  #create(path: string, node: Node): void {
    const p = norm(path);
    if (this.nodes.has(p)) throw new FerryError('exists', 'Already exists');
    if (this.nodes.get(parentOf(p))?.type !== 'dir') throw new FerryError('not-found', 'No such directory');
    this.nodes.set(p, node);
  }

  async realpath(path: string): Promise<string> {
    return norm(path);
  }

  async stat(path: string, options?: { follow?: boolean }): Promise<SessionStat> {
    this.#check('stat');
    let node = this.#get(path);
    if (node.type === 'symlink' && options?.follow !== false) node = this.#get(node.target as string);
    return this.#info(path, node);
  }

  async *list(path: string): AsyncIterable<EntryInfo> {
    this.#check('list');
    const dir = norm(path);
    if (this.#get(dir).type !== 'dir') throw new FerryError('not-a-directory', 'Not a directory');
    for (const [p, node] of [...this.nodes]) {
      if (p !== '/' && parentOf(p) === dir) yield this.#info(p, node);
    }
  }

  async open(path: string, flags: OpenFlags): Promise<OpenFile> {
    this.#check('open');
    const p = norm(path);
    let node = this.nodes.get(p);
    if (node && flags.exclusive && flags.create) throw new FerryError('exists', 'Already exists');
    if (!node) {
      if (!flags.create) throw new FerryError('not-found', 'No such file');
      node = { type: 'file', data: Buffer.alloc(0), mode: 0o644, mtimeMs: 1e12 };
      this.#create(p, node);
    }
    if (node.type === 'dir') throw new FerryError('is-a-directory', 'Is a directory');
    if (flags.truncate) node.data = Buffer.alloc(0);
    this.openFiles++;
    const file = node;
    const order = this.writes.get(p) ?? [];
    this.writes.set(p, order);
    let closed = false;
    const delay = this.#writeDelay;
    return {
      path: p,
      read: async (offset, length) => file.data.subarray(offset, offset + length),
      write: async (offset, data) => {
        if (!flags.write) throw new FerryError('permission-denied', 'Not opened for writing');
        order.push(offset);
        if (delay) await new Promise((r) => setTimeout(r, delay(offset)));
        const end = offset + data.length;
        if (end > file.data.length) file.data = Buffer.concat([file.data, Buffer.alloc(end - file.data.length)]);
        data.copy(file.data, offset);
      },
      stat: async () => this.#info(p, file),
      setStat: async (changes) => this.#apply(file, changes),
      sync: async () => {},
      // One node per path in this double: the same path is the same file.
      sameFileAs: async (other) => other.path === p,
      close: async () => {
        if (!closed) this.closedFiles++;
        closed = true;
      },
      abandon: async () => {
        if (!closed) this.closedFiles++;
        closed = true;
      },
    };
  }

  async openRead(): Promise<never> {
    throw new FerryError('unsupported', 'not in this test double');
  }

  async openWrite(): Promise<never> {
    throw new FerryError('unsupported', 'not in this test double');
  }

  async mkdir(path: string): Promise<void> {
    this.#check('mkdir');
    this.#create(path, { type: 'dir', data: Buffer.alloc(0), mode: 0o755, mtimeMs: 1e12 });
  }

  async rmdir(path: string): Promise<void> {
    this.#check('rmdir');
    const p = norm(path);
    if (this.#get(p).type !== 'dir') throw new FerryError('not-a-directory', 'Not a directory');
    if ([...this.nodes.keys()].some((k) => k !== p && k.startsWith(p + '/'))) throw new FerryError('not-empty', 'Directory not empty');
    this.nodes.delete(p);
  }

  async remove(path: string): Promise<void> {
    this.#check('remove');
    if (this.#get(path).type === 'dir') throw new FerryError('is-a-directory', 'Is a directory');
    this.nodes.delete(norm(path));
  }

  async rename(from: string, to: string, options?: { overwrite?: boolean }): Promise<void> {
    this.#check('rename');
    const node = this.#get(from);
    if (this.nodes.has(norm(to)) && !options?.overwrite) throw new FerryError('exists', 'Target exists');
    this.nodes.delete(norm(from));
    this.nodes.set(norm(to), node);
  }

  #apply(node: Node, changes: SetStatChanges): void {
    if (changes.mode !== undefined) node.mode = changes.mode;
    if (changes.mtimeMs !== undefined) node.mtimeMs = changes.mtimeMs;
    if (changes.size !== undefined) node.data = Buffer.concat([node.data, Buffer.alloc(changes.size)]).subarray(0, changes.size);
  }

  async copy(): Promise<never> {
    throw new FerryError('unsupported', 'not in this test double');
  }

  async setStat(path: string, changes: SetStatChanges): Promise<void> {
    this.#check('setStat');
    this.#apply(this.#get(path), changes);
  }

  async readlink(path: string): Promise<string> {
    const node = this.#get(path);
    if (node.type !== 'symlink') throw new FerryError('not-a-link', 'Not a link');
    return node.target as string;
  }

  async symlink(target: string, path: string): Promise<void> {
    this.#check('symlink');
    this.#create(path, { type: 'symlink', data: Buffer.alloc(0), mode: 0o777, mtimeMs: 1e12, target });
  }

  async link(existing: string, path: string): Promise<void> {
    this.#check('link');
    this.#create(path, this.#get(existing));
  }

  async statvfs(): Promise<SpaceInfo> {
    return { blockSize: 4096, totalBlocks: 1000, freeBlocks: 600, availableBlocks: 500, totalFiles: 100, freeFiles: 50, maxNameLength: 255 };
  }

  async checksum(): Promise<Buffer> {
    throw new FerryError('unsupported', 'not in this test double');
  }

  allows(): boolean {
    return true;
  }

  channel(): Session {
    return this;
  }

  transfers(): TransferInfo[] {
    return [];
  }

  async stopTransfer(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {}
}
