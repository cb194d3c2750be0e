// SFTP v3 requests (draft-ietf-secsh-filexfer-02 section 6): one row per packet type naming its
// handler, as sftp-server.c `handlers[]`. Each handler decodes its fields (layout in the comment
// above it), calls one Session method and returns the reply. The Session decides permissions,
// confinement and quotas; nothing here checks them.
import type { OpenFlags } from '../../../session/types.ts';
import type { EntryInfo } from '../../../vfs/vfs.ts';
import { formatListLine } from '../../../session/listing.ts';
import { changesFromAttrs } from './attrs.ts';
import { FX, FXF, FXP } from './constants.ts';
import type { RequestContext, RequestRow } from './context.ts';
import { EXTENSION_ROWS } from './extensions.ts';
import { closeHandle, handleOf, readReply, serialize } from './handles.ts';
import type { SftpReader } from './reader.ts';
import type { NameEntry, Reply } from './replies.ts';
import { EOF, OK, oneName, status } from './replies.ts';

export function openFlags(pflags: number): OpenFlags {
  const write = (pflags & FXF.WRITE) !== 0;
  return {
    // Neither READ nor WRITE is O_RDONLY in OpenSSH's flags_from_portable.
    read: (pflags & FXF.READ) !== 0 || !write,
    write,
    append: (pflags & FXF.APPEND) !== 0,
    create: (pflags & FXF.CREAT) !== 0,
    truncate: (pflags & FXF.TRUNC) !== 0,
    exclusive: (pflags & FXF.EXCL) !== 0,
  };
}

// string filename, uint32 pflags, ATTRS attrs (creation mode: the storage decides modes)
async function open(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  const pflags = r.u32('pflags');
  r.attrs();
  const slot = ctx.handles.reserve();
  try {
    const file = await ctx.session.open(path, openFlags(pflags));
    return { kind: 'handle', handle: slot.commit({ kind: 'file', path: file.path, file }) };
  } catch (error) {
    slot.release();
    throw error;
  }
}

// string handle
function close(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookup(handleOf(r));
  ctx.handles.remove(handle);
  return serialize(handle, async () => {
    await closeHandle(handle);
    return OK;
  });
}

// string handle, uint64 offset, uint32 len
function read(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookupFile(handleOf(r));
  const offset = r.u64('offset');
  const length = Math.min(r.u32('length'), ctx.limits.maxReadLength);
  const alloc = ctx.dataBuffer?.bind(ctx);
  return serialize(handle, () => readReply(handle.file, offset, length, alloc));
}

// string handle, uint64 offset, string data
function write(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookupFile(handleOf(r));
  const offset = r.u64('offset');
  const data = r.bytes(ctx.limits.maxWriteLength, 'data');
  return serialize(handle, async () => {
    await handle.file.write(offset, data);
    return OK;
  });
}

function statBy(follow: boolean) {
  // string path
  return async (ctx: RequestContext, r: SftpReader): Promise<Reply> => {
    const path = r.path();
    return { kind: 'attrs', entry: await ctx.session.stat(path, { follow }) };
  };
}

// string handle
function fstat(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookup(handleOf(r));
  return serialize(handle, async () => ({
    kind: 'attrs',
    entry: handle.kind === 'file' ? await handle.file.stat() : await ctx.session.stat(handle.path),
  }));
}

function setStatChanges(r: SftpReader) {
  const { changes, ownerOnly } = changesFromAttrs(r.attrs());
  if (ownerOnly) {
    // Virtual users own their whole tree; there is no owner to change (chown/chgrp).
    return { changes, refusal: status(FX.OP_UNSUPPORTED, 'Changing the owner or group is not supported') };
  }
  return { changes, refusal: Object.keys(changes).length === 0 ? OK : undefined };
}

// string path, ATTRS attrs
async function setstat(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  const { changes, refusal } = setStatChanges(r);
  if (refusal) return refusal;
  await ctx.session.setStat(path, changes);
  return OK;
}

// string handle, ATTRS attrs
function fsetstat(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookup(handleOf(r));
  const { changes, refusal } = setStatChanges(r);
  return serialize(handle, async () => {
    if (refusal) return refusal;
    if (handle.kind === 'file') await handle.file.setStat(changes);
    else await ctx.session.setStat(handle.path, changes);
    return OK;
  });
}

// string path
async function opendir(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  const slot = ctx.handles.reserve();
  let entries: AsyncIterator<EntryInfo> | undefined;
  try {
    const resolved = await ctx.session.realpath(path);
    entries = ctx.session.list(resolved)[Symbol.asyncIterator]();
    const lookahead = await entries.next();
    return { kind: 'handle', handle: slot.commit({ kind: 'dir', path: resolved, entries, lookahead }) };
  } catch (error) {
    slot.release();
    await entries?.return?.().catch(() => undefined);
    throw error;
  }
}

// string handle
function readdir(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookupDir(handleOf(r));
  return serialize(handle, async () => {
    const owner = ctx.session.user.username;
    const now = ctx.now();
    const names: NameEntry[] = [];
    let bytes = 0;
    // Batches are bounded by count and size so a reply always fits the client's packet limit.
    while (names.length < ctx.limits.readdirBatch && bytes < ctx.limits.maxPacketLength / 2) {
      const next = handle.lookahead ?? (await handle.entries.next());
      handle.lookahead = undefined;
      if (next.done) {
        handle.lookahead = next;
        break;
      }
      const entry = next.value;
      const longname = formatListLine(entry, owner, now);
      names.push({ filename: entry.name, longname, entry });
      bytes += 2 * Buffer.byteLength(entry.name) + longname.length + 64;
    }
    return names.length === 0 ? EOF : { kind: 'name', entries: names };
  });
}

function pathOp(call: (ctx: RequestContext, path: string) => Promise<void>) {
  // string path (MKDIR: then ATTRS attrs, ignored: the storage decides modes)
  return async (ctx: RequestContext, r: SftpReader): Promise<Reply> => {
    const path = r.path();
    await call(ctx, path);
    return OK;
  };
}

// string path ("" means the current directory, as in sftp-server.c)
async function realpath(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  return oneName(await ctx.session.realpath(path === '' ? '.' : path));
}

// string oldpath, string newpath; v3 RENAME fails when newpath exists (posix-rename does not)
async function rename(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const from = r.path('old path');
  const to = r.path('new path');
  await ctx.session.rename(from, to, { overwrite: false });
  return OK;
}

// string path
async function readlink(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  return oneName(await ctx.session.readlink(path));
}

// string targetpath, string linkpath: OpenSSH's order, the reverse of the draft (PROTOCOL 4.1);
// every common client follows OpenSSH.
async function symlink(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const target = r.path('target path');
  const link = r.path('link path');
  await ctx.session.symlink(target, link);
  return OK;
}

// string extended-request, any request-specific data
function extended(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const name = r.text(256, 'extended request name');
  const row = EXTENSION_ROWS.find((e) => e.key === name);
  if (row === undefined) {
    return Promise.resolve(status(FX.OP_UNSUPPORTED, `Unsupported extended request ${name.slice(0, 64)}`));
  }
  return row.run(ctx, r);
}

export const REQUEST_ROWS: readonly RequestRow<number>[] = [
  { key: FXP.OPEN, name: 'open', run: open },
  { key: FXP.CLOSE, name: 'close', run: close },
  { key: FXP.READ, name: 'read', run: read },
  { key: FXP.WRITE, name: 'write', run: write },
  { key: FXP.LSTAT, name: 'lstat', run: statBy(false) },
  { key: FXP.FSTAT, name: 'fstat', run: fstat },
  { key: FXP.SETSTAT, name: 'setstat', run: setstat },
  { key: FXP.FSETSTAT, name: 'fsetstat', run: fsetstat },
  { key: FXP.OPENDIR, name: 'opendir', run: opendir },
  { key: FXP.READDIR, name: 'readdir', run: readdir },
  { key: FXP.REMOVE, name: 'remove', run: pathOp((ctx, p) => ctx.session.remove(p)) },
  { key: FXP.MKDIR, name: 'mkdir', run: pathOp((ctx, p) => ctx.session.mkdir(p)) },
  { key: FXP.RMDIR, name: 'rmdir', run: pathOp((ctx, p) => ctx.session.rmdir(p)) },
  { key: FXP.REALPATH, name: 'realpath', run: realpath },
  { key: FXP.STAT, name: 'stat', run: statBy(true) },
  { key: FXP.RENAME, name: 'rename', run: rename },
  { key: FXP.READLINK, name: 'readlink', run: readlink },
  { key: FXP.SYMLINK, name: 'symlink', run: symlink },
  { key: FXP.EXTENDED, name: 'extended', run: extended },
];
