// SSH_FXP_EXTENDED requests: the OpenSSH extensions its clients use (OpenSSH PROTOCOL section 4)
// and two from draft-ietf-secsh-filexfer-extensions-00 (copy-data, home-directory). Each row is
// advertised in SSH_FXP_VERSION with its version, as sftp-server.c `compose_extension` does.
import { expandHome } from '../../../session/cwd.ts';
import type { SpaceInfo } from '../../../vfs/vfs.ts';
import { FX, MAX_PATH_BYTES } from './constants.ts';
import type { RequestContext, RequestRow } from './context.ts';
import type { FileHandle } from './handles.ts';
import { handleOf, readFull, serialize } from './handles.ts';
import type { SftpReader } from './reader.ts';
import type { Reply } from './replies.ts';
import { OK, oneName, status } from './replies.ts';
import { changesFromAttrs } from './attrs.ts';

export interface ExtensionRow extends RequestRow<string> {
  /** Version string advertised in SSH_FXP_VERSION. */
  readonly version: string;
}

function statvfsReply(space: SpaceInfo): Reply {
  // uint64 f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, f_fsid,
  // f_flag, f_namemax. The fsid is not ours to reveal and the flag bits do not apply: both 0.
  return {
    kind: 'extended',
    fields: (w) =>
      w
        .u64(space.blockSize)
        .u64(space.blockSize)
        .u64(space.totalBlocks)
        .u64(space.freeBlocks)
        .u64(space.availableBlocks)
        .u64(space.totalFiles)
        .u64(space.freeFiles)
        .u64(space.freeFiles)
        .u64(0)
        .u64(0)
        .u64(space.maxNameLength),
  };
}

// string oldpath, string newpath: replaces newpath if it exists (rename(2) semantics)
async function posixRename(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const from = r.path('old path');
  const to = r.path('new path');
  await ctx.session.rename(from, to, { overwrite: true });
  return OK;
}

// string path
async function statvfs(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  return statvfsReply(await ctx.session.statvfs(path));
}

// string handle
function fstatvfs(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookup(handleOf(r));
  return serialize(handle, async () => statvfsReply(await ctx.session.statvfs(handle.path)));
}

// string oldpath, string newpath
async function hardlink(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const existing = r.path('old path');
  const link = r.path('new path');
  await ctx.session.link(existing, link);
  return OK;
}

// string handle
function fsync(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const handle = ctx.handles.lookupFile(handleOf(r));
  return serialize(handle, async () => {
    await handle.file.sync();
    return OK;
  });
}

// string path, ATTRS attrs: like SETSTAT without following a final symlink
async function lsetstat(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  const { changes, ownerOnly } = changesFromAttrs(r.attrs());
  if (ownerOnly) return status(FX.OP_UNSUPPORTED, 'Changing the owner or group is not supported');
  if (Object.keys(changes).length === 0) return OK;
  await ctx.session.setStat(path, changes, { follow: false });
  return OK;
}

// (no fields) -> uint64 max-packet-length, max-read-length, max-write-length, max-open-handles
async function limits(ctx: RequestContext): Promise<Reply> {
  const l = ctx.limits;
  return {
    kind: 'extended',
    fields: (w) => w.u64(l.maxPacketLength).u64(l.maxReadLength).u64(l.maxWriteLength).u64(l.maxOpenHandles),
  };
}

// string path -> NAME, as REALPATH
async function expandPath(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const path = r.path();
  return oneName(await ctx.session.realpath(expandHome(path, ctx.session.user.username)));
}

// string username ("" for oneself) -> NAME
async function homeDirectory(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const username = r.text(MAX_PATH_BYTES, 'username');
  if (username !== '' && username !== ctx.session.user.username) return status(FX.FAILURE, 'No such user');
  return oneName('/');
}

/** Queues `task` on both handles in id order, so two crossed copies cannot wait on each other. */
function serializeBoth<T>(a: FileHandle, b: FileHandle, task: () => Promise<T>): Promise<T> {
  const [first, second] = a.id < b.id ? [a, b] : [b, a];
  return serialize(first, () => serialize(second, task));
}

// string read-from-handle, uint64 read-from-offset, uint64 read-data-length (0: to EOF),
// string write-to-handle, uint64 write-to-offset
function copyData(ctx: RequestContext, r: SftpReader): Promise<Reply> {
  const from = ctx.handles.lookupFile(handleOf(r));
  const readOffset = r.u64('read offset');
  const readLength = r.u64('read length');
  const to = ctx.handles.lookupFile(handleOf(r));
  const writeOffset = r.u64('write offset');
  const same = status(FX.FAILURE, 'copy-data cannot read and write the same file');
  // Checked before queueing: one handle cannot wait on itself.
  if (from === to) return Promise.resolve(same);
  return serializeBoth(from, to, async () => {
    // By identity, not by name: two names (a hard link, a symlink) can be one file.
    if (await from.file.sameFileAs(to.file)) return same;
    let copied = 0;
    while (readLength === 0 || copied < readLength) {
      const want = readLength === 0 ? ctx.limits.maxReadLength : Math.min(ctx.limits.maxReadLength, readLength - copied);
      const chunk = await readFull(from.file, readOffset + copied, want);
      if (chunk.length === 0) break;
      await to.file.write(writeOffset + copied, chunk);
      copied += chunk.length;
    }
    // OpenSSH answers EOF when a fixed length runs past the end of the source.
    return readLength !== 0 && copied < readLength ? status(FX.EOF, 'End of file') : OK;
  });
}

export const EXTENSION_ROWS: readonly ExtensionRow[] = [
  { key: 'posix-rename@openssh.com', version: '1', name: 'posix-rename', run: posixRename },
  { key: 'statvfs@openssh.com', version: '2', name: 'statvfs', run: statvfs },
  { key: 'fstatvfs@openssh.com', version: '2', name: 'fstatvfs', run: fstatvfs },
  { key: 'hardlink@openssh.com', version: '1', name: 'hardlink', run: hardlink },
  { key: 'fsync@openssh.com', version: '1', name: 'fsync', run: fsync },
  { key: 'lsetstat@openssh.com', version: '1', name: 'lsetstat', run: lsetstat },
  { key: 'limits@openssh.com', version: '1', name: 'limits', run: limits },
  { key: 'expand-path@openssh.com', version: '1', name: 'expand-path', run: expandPath },
  { key: 'copy-data', version: '1', name: 'copy-data', run: copyData },
  { key: 'home-directory', version: '1', name: 'home-directory', run: homeDirectory },
];
