// A real three-process cluster on loopback (127.0.0.1-3): founding, joining by IP:port with
// one-time tokens, the same users on every node, kill -9 of the leader, a restarted node
// catching up, the clock guard, and the survivor of a lost quorum serving but refusing
// configuration changes. Clients are OpenSSH sftp (sshpass) and the real ferry CLI.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { crashNode, removeDir, runFerry, sftpBatch, startFerryNode, tempDir } from '../../helpers/ferry-node.ts';
import type { RunningNode } from '../../helpers/ferry-node.ts';

interface ClusterNode {
  node: RunningNode;
  dataDir: string;
  host: string;
  clusterAddr: string;
}

/** A node's id: generated for the founder, the --node-id for the others. */
function idOf(n: ClusterNode): string {
  return readFileSync(path.join(n.dataDir, 'node-id'), 'utf8').trim();
}

function clusterAddress(node: RunningNode): string {
  const line = node.stdout.find((l) => l.startsWith('listening cluster '));
  assert.ok(line, `the node printed its cluster address: ${node.stdout.join(' | ')}`);
  return line.slice('listening cluster '.length);
}

async function status(dataDir: string): Promise<{ leader: string; commit: number; applied: number; members: { id: string; role: string; health: string }[] }> {
  const r = await runFerry(['cluster', 'status', '--data', dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { leader: string; commit: number; applied: number; members: { id: string; role: string; health: string }[] };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function start(root: string, name: string, host: string, extra: readonly string[] = [], launcher?: readonly string[]): Promise<ClusterNode> {
  const dataDir = path.join(root, name);
  const node = await startFerryNode({ dataDir, binding: ['--host', host, '--sftp-port', '0'], args: ['--cluster-port', '0', ...extra], ...(launcher ? { launcher } : {}) });
  return { node, dataDir, host, clusterAddr: clusterAddress(node) };
}

async function token(member: ClusterNode): Promise<string> {
  const r = await runFerry(['cluster', 'token', '--data', member.dataDir]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function join(root: string, name: string, host: string, via: ClusterNode): Promise<ClusterNode> {
  return start(root, name, host, ['--join', via.clusterAddr, '--token', await token(via), '--node-id', name]);
}

function login(n: ClusterNode, user: string, password: string, cwd: string, commands = 'pwd\n') {
  return sftpBatch(n.node, { user, password, commands, cwd, extra: ['-o', 'PubkeyAuthentication=no'] });
}

test('three nodes joined by IP:port serve the same users, survive kill -9 of the leader, and a lone survivor refuses config changes', { timeout: 240_000 }, async (t) => {
  const root = tempDir('ferry-cluster-');
  const nodes: ClusterNode[] = [];
  t.after(async () => {
    for (const n of nodes) await n.node.stop();
    removeDir(root);
  });
  const work = path.join(root, 'client');
  mkdirSync(work);

  const n1 = await start(root, 'n1', '127.0.0.1');
  nodes.push(n1);
  const n2 = await join(root, 'n2', '127.0.0.2', n1);
  nodes.push(n2);
  // The third joins through a follower: any member admits.
  const n3 = await join(root, 'n3', '127.0.0.3', n2);
  nodes.push(n3);
  const three = await until('three voters', async () => {
    const st = await status(n1.dataDir);
    return st.members.filter((m) => m.role === 'voter').length === 3 ? st : undefined;
  });
  const leaderStatus = await status(nodes.find((n) => idOf(n) === three.leader)!.dataDir);
  assert.deepEqual(leaderStatus.members.map((m) => m.health).sort(), ['connected', 'connected', 'ok'], 'the leader reaches both followers');

  // A user created through a follower's CLI (forwarded to the leader) logs in everywhere.
  const csv = path.join(root, 'users.csv');
  const home = path.join(root, 'shared', 'alice');
  writeFileSync(csv, `alice,"alice-password-1",${home},ssh2_sftp,"dirList,fileGet,filePut"\n`);
  const imported = await runFerry(['importusers', '--csv', csv, '--vsite', 'default', '--makevfs', '--data', n2.dataDir]);
  assert.equal(imported.code, 0, imported.stdout + imported.stderr);
  writeFileSync(path.join(work, 'up.txt'), 'written through n3\n');
  await until('alice logs in on n3', async () => ((await login(n3, 'alice', 'alice-password-1', work, 'put up.txt\n')), true));
  const { stdout } = await login(n1, 'alice', 'alice-password-1', work, 'get up.txt down.txt\n');
  assert.match(stdout, /get up.txt/);
  assert.equal(readFileSync(path.join(work, 'down.txt'), 'utf8'), 'written through n3\n', 'shared storage: n1 serves what n3 stored');

  // kill -9 of the leader: the others elect a new one and take writes within seconds.
  const leaderId = (await status(n1.dataDir)).leader;
  const leader = nodes.find((n) => idOf(n) === leaderId);
  assert.ok(leader, `the leader ${leaderId} is one of the three`);
  const survivors = nodes.filter((n) => n !== leader);
  await crashNode(leader.node);
  const killedAt = Date.now();
  await until('a write on a survivor after the leader died', async () => {
    const r = await runFerry(['passwd', '--vsite', 'default', '--username', 'alice', '--data', survivors[0]!.dataDir], { input: 'alice-password-2\n' });
    return r.code === 0 ? r : undefined;
  });
  assert.ok(Date.now() - killedAt < 15_000, `a new leader took the write ${Date.now() - killedAt} ms after the kill`);
  await until('the new password on the other survivor', async () => ((await login(survivors[1]!, 'alice', 'alice-password-2', work)), true));

  // The killed node restarts from its data directory and catches up.
  const restarted = await startFerryNode({ dataDir: leader.dataDir, binding: ['--host', leader.host, '--sftp-port', '0'] });
  nodes[nodes.indexOf(leader)] = { ...leader, node: restarted };
  await until('the restarted node has the new password', async () => ((await login({ ...leader, node: restarted }, 'alice', 'alice-password-2', work)), true));

  // Two of three down: the survivor serves downloads and refuses config writes, saying why.
  const [a, b] = nodes.filter((n) => n.node !== restarted);
  await crashNode(a!.node);
  await crashNode(b!.node);
  const lone = { ...leader, node: restarted };
  await login(lone, 'alice', 'alice-password-2', work, 'get up.txt again.txt\n');
  assert.equal(readFileSync(path.join(work, 'again.txt'), 'utf8'), 'written through n3\n');
  const refused = await runFerry(['passwd', '--vsite', 'default', '--username', 'alice', '--data', lone.dataDir], { input: 'alice-password-3\n', timeoutMs: 30_000 });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /majority/);
  assert.match(refused.stderr, /file transfers and logins go on/i);
});

test('a node whose clock is skewed beyond the limit is refused at join, saying so', { timeout: 120_000 }, async (t) => {
  const root = tempDir('ferry-cluster-skew-');
  const nodes: RunningNode[] = [];
  t.after(async () => {
    for (const n of nodes) await n.stop();
    removeDir(root);
  });
  const n1 = await start(root, 'n1', '127.0.0.1');
  nodes.push(n1.node);
  const t1 = await token(n1);
  // libfaketime moves the joining process's clock 30 s ahead (Debian package faketime).
  const joined = startFerryNode({
    dataDir: path.join(root, 'skewed'),
    launcher: ['faketime', '-f', '+30s', process.execPath, path.resolve('bin/ferry.js')],
    binding: ['--host', '127.0.0.2', '--sftp-port', '0'],
    args: ['--cluster-port', '0', '--join', n1.clusterAddr, '--token', t1, '--node-id', 'skewed'],
  });
  await assert.rejects(joined, /clock is \d+ ms off/);
  const st = await status(n1.dataDir);
  assert.deepEqual(st.members.map((m) => m.id), [idOf(n1)], 'the skewed node was not added');
});
