// Login: parametric targets expanded per session, missing homes created, subsystems checked,
// login and logout in the transfer log.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import pino from 'pino';
import { createView } from '../../../src/config/view.ts';
import { SessionRegistry } from '../../../src/session/registry.ts';
import { openSession } from '../../../src/session/session.ts';
import type { TransferRecord } from '../../../src/logging/transfer-log.ts';
import type { Session } from '../../../src/session/types.ts';
import { DriverPool } from '../../../src/vfs/pool.ts';
import { buildFixtureState, createSessionFixture, fixtureNode } from '../../helpers/session-fixture.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const clock = () => Date.UTC(2026, 0, 31, 12, 0, 0);

async function write(session: Session, p: string) {
  const w = await session.openWrite(p);
  w.end('x');
  await finished(w);
}

describe('session login', () => {
  it('expands {{username}} and creates the missing home directory', async (t) => {
    const fx = await createSessionFixture({ username: 'carol' });
    t.after(fx.cleanup);
    assert.equal(existsSync(path.join(fx.dataDir, 'homes', 'carol')), true);
    await write(fx.session, '/hello.txt');
    assert.equal(readFileSync(path.join(fx.dataDir, 'homes', 'carol', 'hello.txt'), 'utf8'), 'x');
  });

  it('expands date, description, LDAP home and session data, legacy forms included', async (t) => {
    const fx = await createSessionFixture({
      homeTarget: '{dataDir}/by-day/{{today_utc}}/[%USERNAME%]/{{user_desc}}/{{sess_custdata}}',
      description: 'Accounting',
      now: clock,
      sessionOptions: { sessCustData: 'tenant-9' },
      virtualFolders: [{ path: '/ldap', permissions: ['dirList'], target: '{{user_home}}' }],
    }).catch((error: unknown) => error);
    assert.equal((fx as { kind?: string }).kind, 'misconfigured', 'no LDAP home: the {{user_home}} folder cannot resolve');
    const base = await mkdtemp(path.join(tmpdir(), 'ferry-ldap-'));
    t.after(() => rm(base, { recursive: true, force: true }));
    const ok = await createSessionFixture({
      homeTarget: '{dataDir}/by-day/{{today_utc}}/[%USERNAME%]/{{user_desc}}/{{sess_custdata}}',
      description: 'Accounting',
      now: clock,
      sessionOptions: { sessCustData: 'tenant-9', ldapHome: path.join(base, 'ldap-home') },
      virtualFolders: [{ path: '/ldap', permissions: ['dirList'], target: '{{user_home}}/files' }],
    });
    t.after(ok.cleanup);
    assert.equal(existsSync(path.join(ok.dataDir, 'by-day', '20260131', 'alice', 'Accounting', 'tenant-9')), true);
    assert.equal(existsSync(path.join(base, 'ldap-home', 'files')), true);
  });

  it('refuses a login whose description would inject a path', async (t) => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-login-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const { state, user } = buildFixtureState(dataDir, { homeTarget: '{dataDir}/{{user_desc}}', description: '../../etc' });
    const records: TransferRecord[] = [];
    const deps = { view: createView(state), node: fixtureNode(dataDir), drivers: new DriverPool(), transferLog: { write: (r: TransferRecord) => records.push(r) }, logger: pino({ level: 'silent' }), now: clock };
    const connection = { connectionId: 'c1', siteId: 'default', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2 };
    await assert.rejects(openSession(deps, user, connection, 'ssh2_sftp'), { kind: 'misconfigured' });
    assert.deepEqual(readdirSync(dataDir), [], 'no directory was created anywhere');
    assert.deepEqual(records.map((r) => `${r.operation} ${r.status}`), ['login-failed misconfigured']);
  });

  it('refuses a subsystem the user may not use and reports the ones it may', async (t) => {
    await assert.rejects(createSessionFixture({ subsystems: ['ssh2_sftp'], protocol: 'ssh2_scp' }), { kind: 'subsystem-denied' });
    const fx = await createSessionFixture({ subsystems: ['ssh2_sftp', 'ftp'] });
    t.after(fx.cleanup);
    assert.equal(fx.session.allows('ssh2_sftp'), true);
    assert.equal(fx.session.allows('ftp'), true);
    assert.equal(fx.session.allows('ssh2_scp'), false);
    await assert.rejects(fx.openAnother('ssh2_shell'), { kind: 'subsystem-denied' });
  });

  it('logs login, operations with bytes and durations, and logout with the session\'s identity', async (t) => {
    let now = clock();
    const fx = await createSessionFixture({ now: () => (now += 5) });
    t.after(fx.cleanup);
    await fx.session.mkdir('/d');
    await write(fx.session, '/d/f.txt');
    await fx.session.rename('/d/f.txt', '/d/g.txt');
    const file = await fx.session.open('/d/g.txt', { read: true });
    await file.read(0, 10);
    await file.close();
    await file.close();
    await fx.session.remove('/d/g.txt');
    await fx.session.rmdir('/d');
    await fx.session.setStat('/', { mtimeMs: clock() });
    await fx.session.close();
    await fx.session.close();
    const lines = fx.records.map((r) => `${r.operation} ${r.path}${r.target ? ' -> ' + r.target : ''} ${r.bytes} ${r.status}`);
    assert.deepEqual(lines, [
      'login / 0 ok',
      'mkdir /d 0 ok',
      'upload /d/f.txt 1 ok',
      'rename /d/f.txt -> /d/g.txt 0 ok',
      'download /d/g.txt 1 ok',
      'delete /d/g.txt 0 ok',
      'rmdir /d 0 ok',
      'setstat / 0 ok',
      'logout / 0 ok',
    ]);
    for (const r of fx.records) {
      assert.equal(r.username, 'alice');
      assert.equal(r.protocol, 'ssh2_sftp');
      assert.equal(r.connectionId, fx.connection.connectionId);
      assert.ok((r.durationMs ?? -1) >= 0);
    }
    assert.ok((fx.records[2]?.durationMs ?? 0) > 0, 'the upload took time on the injected clock');
    await assert.rejects(fx.session.stat('/'), { kind: 'internal' }, 'a closed session refuses work');
  });

  it('serves every channel of a connection from one session: one login, one logout, each channel under its subsystem', async (t) => {
    const fx = await createSessionFixture({ protocol: 'ssh', subsystems: ['ssh2_sftp', 'ssh2_scp'] });
    t.after(fx.cleanup);
    const sftp = fx.session.channel('ssh2_sftp');
    const scp = fx.session.channel('ssh2_scp');
    assert.equal(sftp.id, fx.session.id, 'a channel is a view of the connection\'s session, not another session');
    assert.throws(() => fx.session.channel('ftp'), { kind: 'subsystem-denied' });
    const left = await sftp.open('/left-open', { write: true, create: true });
    await left.write(0, Buffer.from('kept'));
    await write(scp, '/by-scp');
    await sftp.close();
    await assert.rejects(sftp.stat('/'), { kind: 'internal' }, 'a closed channel refuses work');
    await write(scp, '/after');
    await scp.close();
    assert.equal(readFileSync(path.join(fx.homeDir, 'left-open'), 'utf8'), 'kept');
    await fx.session.close();
    assert.deepEqual(
      fx.records.map((r) => `${r.operation} ${r.path} ${r.protocol} ${r.status}`),
      ['login / ssh ok', 'upload /by-scp ssh2_scp ok', 'upload /left-open ssh2_sftp incomplete', 'upload /after ssh2_scp ok', 'logout / ssh ok'],
    );
    assert.equal(new Set(fx.records.map((r) => r.connectionId)).size, 1);
  });

  it('closing the connection\'s session closes the channels still open on it', async (t) => {
    const fx = await createSessionFixture({ protocol: 'ssh' });
    t.after(fx.cleanup);
    const sftp = fx.session.channel('ssh2_sftp');
    const file = await sftp.open('/open', { write: true, create: true });
    await file.write(0, Buffer.from('x'));
    await fx.session.close();
    await assert.rejects(sftp.stat('/'), { kind: 'internal' });
    assert.throws(() => fx.session.channel('ssh2_sftp'), { kind: 'internal' });
    assert.deepEqual(fx.records.map((r) => `${r.operation} ${r.status}`), ['login ok', 'upload incomplete', 'logout ok']);
  });

  it('flushes and logs files left open when the session closes', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const file = await fx.session.open('/left-open', { write: true, create: true });
    await file.write(0, Buffer.from('pending bytes'));
    await fx.session.close();
    assert.equal(readFileSync(path.join(fx.homeDir, 'left-open'), 'utf8'), 'pending bytes');
    assert.deepEqual(fx.records.map((r) => r.operation), ['login', 'upload', 'logout']);
  });

  describe('refuses a storage location that reaches the node\'s data directory', () => {
    async function nodeWithSecret(t: { after: (fn: () => Promise<void>) => void }) {
      const base = await mkdtemp(path.join(tmpdir(), 'ferry-reach-'));
      t.after(() => rm(base, { recursive: true, force: true }));
      const node = path.join(base, 'node');
      mkdirSync(path.join(node, 'files'), { recursive: true });
      writeFileSync(path.join(node, 'secret.key'), 'master key');
      return { base, node };
    }

    it('through a symbolic link to the data directory, before creating anything', async (t) => {
      const { base, node } = await nodeWithSecret(t);
      symlinkSync(node, path.join(base, 'link'));
      for (const homeTarget of [path.join(base, 'link'), path.join(base, 'link', '{{username}}'), path.join(base, 'link', 'files', '..', 'config')]) {
        await assert.rejects(createSessionFixture({ homeTarget, node: { dataDir: node } }), (error: { kind?: string; detail?: string; message?: string }) => {
          assert.equal(error.kind, 'permission-denied', homeTarget);
          assert.match(error.message ?? '', /storage location is not allowed on this server/);
          assert.match(error.detail ?? '', /really .*node.* the node's data directory|inside the node's data directory/);
          return true;
        });
      }
      assert.deepEqual(readdirSync(node).sort(), ['files', 'secret.key'], 'nothing was created in the data directory');
    });

    it('through a variable value, while the files area itself is served', async (t) => {
      const { node } = await nodeWithSecret(t);
      // A committed VFS the proposing node accepted (its data directory is elsewhere).
      await assert.rejects(createSessionFixture({ username: 'logs', homeTarget: `${node}/{{username}}`, node: { dataDir: node } }), { kind: 'permission-denied' });
      const ok = await createSessionFixture({ username: 'carol', homeTarget: `${node}/files/{{username}}`, node: { dataDir: node } });
      t.after(ok.cleanup);
      assert.equal(existsSync(path.join(node, 'files', 'carol')), true);
    });
  });
});

describe('session registry', () => {
  it('counts a user\'s sessions per connection from login to close, channels not apart', async (t) => {
    const registry = new SessionRegistry();
    const dataDir = await mkdtemp(path.join(tmpdir(), 'ferry-registry-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    const { state, user } = buildFixtureState(dataDir);
    const deps = { view: createView(state), node: fixtureNode(dataDir), drivers: new DriverPool(), transferLog: { write() {} }, logger: pino({ level: 'silent' }), now: clock, registry };
    const connection = (id: string) => ({ connectionId: id, siteId: 'default', remoteAddress: '127.0.0.1', remotePort: 1, localAddress: '127.0.0.1', localPort: 2 });
    const first = await openSession(deps, user, connection('c1'), 'ssh');
    const sftp = first.channel('ssh2_sftp');
    first.channel('ssh2_scp');
    const second = await openSession(deps, user, connection('c2'), 'ssh2_sftp');
    assert.equal(registry.count('default', 'alice'), 2);
    assert.equal(registry.count('default', 'bob'), 0);
    await sftp.close();
    assert.equal(registry.count('default', 'alice'), 2, 'a channel closing leaves its connection\'s session');
    await first.close();
    await first.close();
    assert.deepEqual(registry.list().map((s) => s.connection.connectionId), ['c2']);
    await second.close();
    assert.equal(registry.count('default', 'alice'), 0);
  });
});
