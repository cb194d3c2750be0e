import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Sensitivity } from '../../../src/config/model/protector.ts';
import { Protector } from '../../../src/protector/protector.ts';
import type { ProtectedSite, ProtectorEvent } from '../../../src/protector/protector.ts';

function setup(site: ProtectedSite) {
  const clock = { now: 1_000_000 };
  const current = { site };
  const events: ProtectorEvent[] = [];
  const protector = new Protector({ site: (id) => (id === 's' ? current.site : undefined), now: () => clock.now });
  protector.subscribe((event) => events.push(event));
  let n = 0;
  const connect = (address: string) => {
    const connectionId = `c${n++}`;
    protector.opened({ connectionId, siteId: 's', remoteAddress: address });
    return connectionId;
  };
  const fail = (connectionId: string, address: string) =>
    protector.authOutcome({ siteId: 's', connectionId, remoteAddress: address, username: 'root', outcome: 'failure', reason: 'wrong password' });
  return { clock, current, events, protector, connect, fail };
}

const at = (sensitivity: Sensitivity, extra: ProtectedSite['protector'] = {}): ProtectedSite => ({ protector: { sensitivity, ...extra } });

describe('the Protector', () => {
  it('blocks after the sensitivity\'s threshold of failed logins and publishes every strike', () => {
    const { protector, connect, fail, events } = setup(at('normal', { thresholds: { normal: 4 } }));
    const c = connect('127.0.0.2');
    for (let i = 0; i < 3; i++) fail(c, '127.0.0.2');
    assert.equal(protector.check('s', '127.0.0.2').admit, true);
    fail(c, '127.0.0.2');
    assert.deepEqual(protector.check('s', '127.0.0.2'), { admit: false, reason: 'blocked automatically', until: 1_000_000 + 1_800_000 });
    assert.equal(protector.check('s', '127.0.0.3').admit, true);
    assert.deepEqual(events.map((e) => e.type), ['strike', 'strike', 'strike', 'strike', 'blocked']);
    assert.equal(protector.blocked('s')[0]?.key, '127.0.0.2');
  });

  it('never blocks a safe-listed address', () => {
    const { protector, connect, fail, events } = setup({ ...at('paranoid'), lists: { safe: [{ entry: '127.0.0.0/29' }] } });
    const c = connect('127.0.0.2');
    for (let i = 0; i < 20; i++) fail(c, '127.0.0.2');
    assert.deepEqual(protector.check('s', '127.0.0.2'), { admit: true, safe: true });
    assert.deepEqual(events, []);
  });

  it('counts connect-then-disconnect at normal, not at indulgent', () => {
    for (const [sensitivity, blocked] of [['indulgent', false], ['normal', true]] as const) {
      const { protector, connect } = setup(at(sensitivity, { thresholds: { indulgent: 3, normal: 3 } }));
      for (let i = 0; i < 3; i++) protector.closed(connect('127.0.0.4'), { loggedIn: false, goodbye: false, endedByServer: false });
      assert.equal(protector.check('s', '127.0.0.4').admit, !blocked, sensitivity);
    }
  });

  it('a connection with a login attempt is no connect-then-disconnect', () => {
    const { protector, connect, events } = setup(at('normal'));
    const c = connect('127.0.0.4');
    protector.authOutcome({ siteId: 's', connectionId: c, remoteAddress: '127.0.0.4', username: 'a', outcome: 'success' });
    protector.closed(c, { loggedIn: true, goodbye: false, endedByServer: false });
    assert.deepEqual(events, []);
  });

  it('counts a missing-file download at strict, not at normal', () => {
    for (const [sensitivity, strikes] of [['normal', 0], ['strict', 2]] as const) {
      const { protector, connect, events } = setup(at(sensitivity));
      const c = connect('127.0.0.5');
      protector.sessionError({ siteId: 's', connectionId: c, remoteAddress: '127.0.0.5', kind: 'not-found', operation: 'stat', path: '/x' });
      protector.sessionError({ siteId: 's', connectionId: c, remoteAddress: '127.0.0.5', kind: 'not-found', operation: 'download', path: '/x' });
      assert.equal(events.length, strikes, sensitivity);
    }
  });

  it('counts a disconnect without goodbye at paranoid only, and not when the server ended it', () => {
    for (const [sensitivity, strikes] of [['strict', 0], ['paranoid', 1]] as const) {
      const { protector, connect, events } = setup(at(sensitivity));
      for (const facts of [{ goodbye: false, endedByServer: false }, { goodbye: true, endedByServer: false }, { goodbye: false, endedByServer: true }]) {
        const c = connect('127.0.0.6');
        protector.authOutcome({ siteId: 's', connectionId: c, remoteAddress: '127.0.0.6', username: 'a', outcome: 'success' });
        protector.closed(c, { loggedIn: true, ...facts });
      }
      assert.equal(events.length, strikes, sensitivity);
    }
  });

  it('a block expires, and an administrator can lift one', () => {
    const { protector, connect, fail, clock, events } = setup(at('paranoid', { thresholds: { paranoid: 2 }, blockDurationMs: 60_000 }));
    const c = connect('2001:db8::1');
    fail(c, '2001:db8::1');
    fail(c, '2001:db8::1');
    assert.equal(protector.check('s', '2001:db8::ffff').admit, false, 'the whole /64 is blocked');
    clock.now += 60_000;
    assert.equal(protector.check('s', '2001:db8::1').admit, true);
    fail(c, '2001:db8::1');
    fail(c, '2001:db8::1');
    assert.equal(protector.lift('s', '2001:db8::/64'), true);
    assert.equal(protector.check('s', '2001:db8::1').admit, true);
    assert.equal(protector.lift('s', '2001:db8::1'), false);
    assert.equal(events.at(-1)?.type, 'lifted');
  });

  it('settings and lists are read per call: a change applies without a restart', () => {
    const { protector, current } = setup({});
    assert.equal(protector.check('s', '10.0.0.1').admit, true);
    current.site = { lists: { block: [{ entry: '10.0.0.0/8' }] } };
    assert.equal(protector.check('s', '10.0.0.1').admit, false);
    assert.equal(protector.trustsProxy('s', '10.0.0.1'), false);
    current.site = { protector: { proxyTrustedSources: ['10.0.0.0/24'] } };
    assert.equal(protector.trustsProxy('s', '10.0.0.1'), true);
    assert.equal(protector.trustsProxy('s', '10.0.1.1'), false);
  });

  it('a trusted load balancer is never blocked by its own health checks', () => {
    const { protector, connect, events } = setup({ protector: { proxyTrustedSources: ['10.0.0.0/24'] } });
    for (let i = 0; i < 30; i++) protector.closed(connect('10.0.0.5'), { loggedIn: false, goodbye: false, endedByServer: false });
    assert.deepEqual(protector.check('s', '10.0.0.5'), { admit: true, safe: true });
    assert.deepEqual(events, []);
  });
});
