import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SiteLists } from '../../../src/config/model/protector.ts';
import { parseAddress } from '../../../src/protector/addresses.ts';
import { compileLists, decide } from '../../../src/protector/rules.ts';

function verdict(lists: SiteLists, address: string, options: { autoBlockUntil?: number; now?: number } = {}) {
  return decide({ address: parseAddress(address)!, lists: compileLists(lists), allowEntries: lists.allow, autoBlockUntil: options.autoBlockUntil, now: options.now ?? 1_000 });
}

describe('safe > block > allow', () => {
  it('admits everyone when every list is empty', () => {
    assert.deepEqual(verdict({}, '203.0.113.9'), { admit: true, safe: false });
  });

  it('refuses a block-listed address or network, even when it is allow-listed', () => {
    const lists: SiteLists = { block: [{ entry: '10.23.5.0/24', comment: 'scanner' }], allow: [{ entry: '10.0.0.0/8' }] };
    assert.deepEqual(verdict(lists, '10.23.5.35'), { admit: false, reason: 'block-listed', entry: '10.23.5.0/24' });
    assert.deepEqual(verdict(lists, '10.23.6.1'), { admit: true, safe: false });
  });

  it('with an allow-list, refuses everyone not on it', () => {
    const lists: SiteLists = { allow: [{ entry: '192.168.1.0/24' }] };
    assert.deepEqual(verdict(lists, '192.168.1.7'), { admit: true, safe: false });
    assert.deepEqual(verdict(lists, '192.168.2.7'), { admit: false, reason: 'not on the allow-list' });
  });

  it('allow-listing does not protect from an automatic block; the safe-list does', () => {
    const lists: SiteLists = { allow: [{ entry: '192.168.1.0/24' }], safe: [{ entry: '192.168.1.1' }] };
    assert.deepEqual(verdict(lists, '192.168.1.7', { autoBlockUntil: 5_000 }), { admit: false, reason: 'blocked automatically', until: 5_000 });
    assert.deepEqual(verdict(lists, '192.168.1.1', { autoBlockUntil: 5_000 }), { admit: true, safe: true });
  });

  it('a safe-listed address is admitted over the block-list and the allow-list', () => {
    const lists: SiteLists = { block: [{ entry: '10.0.0.0/8' }], allow: [{ entry: '192.168.0.0/16' }], safe: [{ entry: '10.9.9.9' }] };
    assert.deepEqual(verdict(lists, '10.9.9.9'), { admit: true, safe: true });
  });

  it('an expired entry no longer applies; an allow-list whose entries all expired restricts no one', () => {
    const lists: SiteLists = { block: [{ entry: '10.1.1.1', expiresAt: 2_000 }], allow: [{ entry: '192.168.1.0/24', expiresAt: 2_000 }] };
    assert.deepEqual(verdict(lists, '10.1.1.1', { now: 1_999 }), { admit: false, reason: 'block-listed', entry: '10.1.1.1', until: 2_000 });
    assert.deepEqual(verdict(lists, '10.1.1.1', { now: 2_000 }), { admit: true, safe: false });
    assert.deepEqual(verdict(lists, '172.16.0.1', { now: 1_999 }), { admit: false, reason: 'not on the allow-list' });
    assert.deepEqual(verdict(lists, '172.16.0.1', { now: 2_000 }), { admit: true, safe: false });
  });

  it('an IPv4 entry covers the IPv4-mapped form a dual-stack socket reports', () => {
    assert.equal(verdict({ block: [{ entry: '127.0.0.2' }] }, '::ffff:127.0.0.2').admit, false);
  });
});
