import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expandTarget, formatDay, isParametric } from '../../../src/vfs/params.ts';

// 2026-03-04 23:30 UTC: already the 5th east of UTC, still the 4th in UTC.
const now = Date.UTC(2026, 2, 4, 23, 30);
const base = { username: 'alice', userDesc: 'Sales EMEA', now };
const refused = (error: { kind?: string; detail?: string }) => error.kind === 'misconfigured' && typeof error.detail === 'string';

describe('expandTarget', () => {
  it('expands every documented variable', () => {
    const params = { ...base, userHome: '/home/alice', sessCustData: 'tenant-7' };
    assert.equal(expandTarget('/srv/{{username}}', params), '/srv/alice');
    assert.equal(expandTarget('{{user_home}}/ftp', params), '/home/alice/ftp');
    assert.equal(expandTarget('/srv/{{user_desc}}', params), '/srv/Sales EMEA');
    assert.equal(expandTarget('/srv/{{today_utc}}', params), '/srv/20260304');
    assert.equal(expandTarget('/srv/{{today}}', params), `/srv/${formatDay(now, false)}`);
    assert.equal(expandTarget('/srv/{{sess_custdata}}/{{username}}', params), '/srv/tenant-7/alice');
    assert.equal(expandTarget('/srv/fixed', params), '/srv/fixed');
  });

  it('expands {{node_files}} to the serving node\'s own files area, and refuses it where the node does not say', () => {
    assert.equal(expandTarget('{{node_files}}/{{username}}', { ...base, nodeFiles: '/srv/ferry/data/files' }), '/srv/ferry/data/files/alice');
    assert.throws(() => expandTarget('{{node_files}}/{{username}}', base), refused);
  });

  it('accepts the legacy bracket notation in any case', () => {
    const params = { ...base, userHome: '/home/alice' };
    assert.equal(expandTarget('/srv/[%USERNAME%]', params), '/srv/alice');
    assert.equal(expandTarget('/srv/[%username%]/[%Today_UTC%]', params), '/srv/alice/20260304');
    assert.equal(expandTarget('[%USER_HOME%]', params), '/home/alice');
    assert.equal(expandTarget('/x/[%USER_DESC%]', params), '/x/Sales EMEA');
  });

  it('formats local and UTC days from the injected clock', () => {
    assert.equal(formatDay(Date.UTC(1999, 11, 31, 12), true), '19991231');
    const local = new Date(now);
    assert.equal(formatDay(now, false), `${local.getFullYear()}${String(local.getMonth() + 1).padStart(2, '0')}${String(local.getDate()).padStart(2, '0')}`);
  });

  it('refuses values that would change which directory is meant', () => {
    for (const username of ['..', '.', 'a/b', '../etc', 'a\\b', 'a\0b', '']) {
      assert.throws(() => expandTarget('/srv/{{username}}', { ...base, username }), refused, JSON.stringify(username));
    }
    assert.throws(() => expandTarget('/srv/{{user_desc}}', { ...base, userDesc: 'Sales/../../etc' }), refused);
    assert.throws(() => expandTarget('/srv/[%USER_DESC%]', { ...base, userDesc: '..' }), refused);
    for (const userHome of ['relative', '/home/../etc', '/home//x', '/home/x/', undefined]) {
      assert.throws(() => expandTarget('{{user_home}}', { ...base, userHome }), refused, String(userHome));
    }
  });

  it('refuses unset session data and unknown variables instead of leaving them literal', () => {
    assert.throws(() => expandTarget('/srv/{{sess_custdata}}', base), refused);
    assert.throws(() => expandTarget('/srv/{{usernme}}', base), refused);
    assert.throws(() => expandTarget('/srv/{{USERNAME}}', base), refused, 'the double-curly names are lowercase');
    assert.throws(() => expandTarget('/srv/[%NOPE%]', base), refused);
  });

  it('tells fixed targets from parametric ones', () => {
    assert.equal(isParametric('/srv/{{username}}'), true);
    assert.equal(isParametric('/srv/[%USERNAME%]'), true);
    assert.equal(isParametric('/srv/plain'), false);
    assert.equal(isParametric('/srv/plain'), false, 'no state kept between calls');
  });
});
