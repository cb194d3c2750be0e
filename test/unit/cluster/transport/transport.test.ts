import assert from 'node:assert/strict';
import tls from 'node:tls';
import { test } from 'node:test';
import { message } from '../../../../cluster/raft/types.ts';
import type { Message } from '../../../../cluster/raft/types.ts';
import { encodeFrame, toWire } from '../../../../cluster/transport/codec.ts';
import { certificateFingerprint, createClusterCa, issueNodeCertificate } from '../../../../cluster/transport/pki.ts';
import { requestJoin, Transport } from '../../../../cluster/transport/transport.ts';
import type { JoinRequest, TransportOptions } from '../../../../cluster/transport/transport.ts';

const ca = createClusterCa('test');
const certs = { a: issueNodeCertificate(ca, 'a'), b: issueNodeCertificate(ca, 'b') };

function until(pred: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => (pred() ? resolve() : Date.now() - start > ms ? reject(new Error('timed out')) : setTimeout(check, 10));
    check();
  });
}

async function pair(t: { after: (fn: () => Promise<void>) => void }, extra: Partial<TransportOptions> = {}) {
  const inbox = { a: [] as Message[], b: [] as Message[] };
  const addresses = new Map<string, string>();
  const make = async (id: 'a' | 'b') => {
    const tr = await Transport.listen({
      nodeId: id, host: '127.0.0.1', port: 0,
      tls: { ca: ca.cert, cert: certs[id].cert + ca.cert, key: certs[id].key },
      addressOf: (peer) => addresses.get(peer),
      onMessage: (m) => inbox[id].push(m),
      ...extra,
    });
    addresses.set(id, tr.address);
    t.after(() => tr.close());
    return tr;
  };
  return { a: await make('a'), b: await make('b'), inbox };
}

test('raft messages travel both ways over mutual TLS, with their bytes intact', async (t) => {
  const { a, b, inbox } = await pair(t);
  const data = Uint8Array.of(0, 1, 2, 255);
  a.send([message({ type: 'append', from: 'a', to: 'b', term: 3, index: 1, logTerm: 1, commit: 1, entries: [{ index: 2, term: 3, type: 'normal', data }] })]);
  b.send([message({ type: 'append-resp', from: 'b', to: 'a', term: 3, index: 2 })]);
  await until(() => inbox.a.length === 1 && inbox.b.length === 1);
  assert.deepEqual(inbox.b[0]?.entries[0]?.data, data);
  assert.equal(inbox.a[0]?.type, 'append-resp');
  assert.ok(a.health('b').skewMs !== undefined && Math.abs(a.health('b').skewMs as number) < 1000, 'the clock of every frame is seen');
});

test('a snapshot larger than a frame arrives whole while small messages keep flowing', async (t) => {
  const sent: boolean[] = [];
  const { a, inbox } = await pair(t, { onSnapshotSent: (_id, ok) => sent.push(ok) });
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
  a.send([message({ type: 'snapshot', from: 'a', to: 'b', term: 2, snapshot: { metadata: { index: 9, term: 2, confState: { voters: ['a', 'b'], learners: [] } }, data: big } })]);
  for (let i = 0; i < 20; i++) a.send([message({ type: 'heartbeat', from: 'a', to: 'b', term: 2 })]);
  await until(() => inbox.b.some((m) => m.type === 'snapshot'), 15000);
  const snap = inbox.b.find((m) => m.type === 'snapshot');
  assert.deepEqual(snap?.snapshot?.data, big);
  assert.equal(inbox.b.filter((m) => m.type === 'heartbeat').length, 20);
  assert.ok(inbox.b.findIndex((m) => m.type === 'heartbeat') < inbox.b.findIndex((m) => m.type === 'snapshot'), 'heartbeats are not stuck behind the snapshot');
  await until(() => sent.length === 1);
  assert.deepEqual(sent, [true]);
});

test('a frame claiming another sender is dropped, and a connection without a cluster certificate may only ask to join', async (t) => {
  const { b, inbox } = await pair(t);
  // An impostor with a cluster certificate for "a" claims to be "c".
  const impostor = tls.connect({ host: '127.0.0.1', port: b.port, ca: ca.cert, cert: certs.a.cert, key: certs.a.key, checkServerIdentity: () => undefined });
  await new Promise((resolve) => impostor.once('secureConnect', resolve));
  impostor.write(encodeFrame({ clock: Date.now(), addr: '', kind: 'raft', msg: toWire(message({ type: 'heartbeat', from: 'c', to: 'b', term: 9 })) }));
  // A stranger without a certificate sends a raft frame: the connection is cut.
  const stranger = tls.connect({ host: '127.0.0.1', port: b.port, rejectUnauthorized: false });
  await new Promise((resolve) => stranger.once('secureConnect', resolve));
  const closed = new Promise((resolve) => stranger.once('close', resolve));
  stranger.write(encodeFrame({ clock: Date.now(), addr: '', kind: 'raft', msg: toWire(message({ type: 'heartbeat', from: 'a', to: 'b', term: 9 })) }));
  await closed;
  impostor.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(inbox.b.length, 0);
});

test('a join request reaches the handler only on a member whose CA the token pins', async (t) => {
  const requests: JoinRequest[] = [];
  const { a } = await pair(t, { onJoin: async (r) => (requests.push(r), r.token === 'good' ? { ok: true, grant: { hello: r.nodeId } } : { ok: false, reason: 'bad token' }) });
  const fingerprint = certificateFingerprint(ca.cert);
  assert.deepEqual(await requestJoin({ memberAddr: a.address, token: 'good', nodeId: 'c', nodeAddr: '127.0.0.9:1', caFingerprint: fingerprint }), { ok: true, grant: { hello: 'c' } });
  assert.deepEqual(await requestJoin({ memberAddr: a.address, token: 'nope', nodeId: 'c', nodeAddr: '127.0.0.9:1', caFingerprint: fingerprint }), { ok: false, reason: 'bad token' });
  const other = createClusterCa('other');
  const wrong = await requestJoin({ memberAddr: a.address, token: 'good', nodeId: 'c', nodeAddr: '127.0.0.9:1', caFingerprint: certificateFingerprint(other.cert) });
  assert.equal(wrong.ok, false);
  assert.match(wrong.ok ? '' : wrong.reason, /did not present this cluster's certificate/);
  assert.equal(requests.length, 2, 'nothing was sent to a member of another cluster');
  assert.ok(Math.abs(requests[0]?.skewMs ?? 1e9) < 1000);
});
