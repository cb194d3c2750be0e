// Runs Ferry's SFTP server over stdin/stdout for one Session, so the real OpenSSH client can be
// tested without SSH:  sftp -D "<node> test/helpers/sftp-stdio-server.ts --home DIR" -b batch
//
//   --home DIR                 the user's home VFS on disk (created if missing)
//   --user NAME                default alice
//   --permissions a,b,c        home permissions (default: all); "none" for an empty list
//   --override /path=a,b       permission override on a home subfolder (repeatable)
//   --folder /vpath=DIR=a,b    virtual folder mounted at /vpath over DIR (repeatable)
//   --log FILE                 append the transfer log (JSON lines) and warnings to FILE
//
// Exits 0 when the client ends the channel, after every handle is closed through the session.
import { appendFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { PERMISSIONS, isPermission } from '../../src/config/model/permissions.ts';
import type { Permission } from '../../src/config/model/permissions.ts';
import { serveSftp } from '../../src/protocols/ssh/sftp/index.ts';
import { createSessionFixture } from './session-fixture.ts';
import type { FixtureFolder } from './session-fixture.ts';

function permissionList(text: string): Permission[] {
  if (text === 'none' || text === '') return [];
  return text.split(',').map((p) => {
    if (!isPermission(p)) throw new Error(`unknown permission ${p}`);
    return p;
  });
}

function splitOnce(text: string, sep: string): [string, string] {
  const at = text.indexOf(sep);
  if (at < 0) throw new Error(`expected ${sep} in ${text}`);
  return [text.slice(0, at), text.slice(at + 1)];
}

const { values } = parseArgs({
  options: {
    home: { type: 'string' },
    user: { type: 'string', default: 'alice' },
    permissions: { type: 'string' },
    override: { type: 'string', multiple: true, default: [] },
    folder: { type: 'string', multiple: true, default: [] },
    log: { type: 'string' },
  },
});
if (!values.home) throw new Error('--home DIR is required');

const overrides = values.override.map((o) => {
  const [path, perms] = splitOnce(o, '=');
  return { path, permissions: permissionList(perms) };
});
const virtualFolders: FixtureFolder[] = values.folder.map((f) => {
  const [path, rest] = splitOnce(f, '=');
  const [target, perms] = splitOnce(rest, '=');
  return { path, target, permissions: permissionList(perms) };
});

const logFile = values.log;
const fx = await createSessionFixture({
  username: values.user,
  homeTarget: values.home,
  permissions: values.permissions === undefined ? PERMISSIONS : permissionList(values.permissions),
  overrides,
  virtualFolders,
});
const log = pino({ level: 'warn' }, logFile ? pino.destination({ dest: logFile, sync: true, append: true }) : pino.destination(2));

// A net.Socket on fd 1 writes asynchronously (process.stdout writes to a pipe synchronously,
// which would hide the server's own flow control from the test).
const output = new Socket({ fd: 1, readable: false, writable: true });
const channel = Duplex.from({ readable: process.stdin, writable: output });
try {
  await serveSftp(channel, fx.session, { log });
} finally {
  if (logFile) for (const record of fx.records) appendFileSync(logFile, JSON.stringify(record) + '\n');
  await fx.cleanup();
}
process.exit(0);
