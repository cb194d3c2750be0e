import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apply } from '../../../src/config/apply.ts';
import { decodeCommand, encodeCommand, encodeSnapshot } from '../../../src/config/codec.ts';
import { COMMAND_FORMAT } from '../../../src/config/commands.ts';
import { RECENT_COMMANDS_WINDOW } from '../../../src/config/state.ts';
import { AUDIT_KEPT } from '../../../src/config/model/admin.ts';
import { validate } from '../../../src/config/validate.ts';
import type { Command } from '../../../src/config/commands.ts';
import { initialState } from '../../../src/config/initial.ts';
import type { ConfigState } from '../../../src/config/state.ts';
import { createView, deepFreeze } from '../../../src/config/view.ts';
import { applyAll, command, NODE, populated, user, vfs } from './fixtures.ts';

test('apply is deterministic: the same state and entry give byte-identical results', () => {
  const state = populated();
  const entry = { index: state.appliedIndex + 1, term: 3, command: command({ type: 'user.put', user: user({ username: 'bob' }) }) };
  const first = apply(state, entry);
  const second = apply(structuredClone(state), structuredClone(entry));
  assert.deepEqual(first, second);
  assert.deepEqual(encodeSnapshot(first.state), encodeSnapshot(second.state));
});

test('apply never mutates its input state or command', () => {
  const state = deepFreeze(populated());
  const before = encodeSnapshot(state);
  const cmd = deepFreeze(command({ type: 'users.import', siteId: 'default', users: [user({ username: 'bob' })], vfs: [vfs({ id: 'v2' })] }));
  const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: cmd });
  assert.equal(outcome.result.ok, true);
  assert.deepEqual(encodeSnapshot(state), before);
  assert.ok(outcome.state.users['default/bob']);
});

test('the applied state does not share objects with the command', () => {
  const body = user({ username: 'carol' });
  const state = applyAll([command({ type: 'user.put', user: body })], populated());
  (body.permissions as string[]).push('fileDelete');
  assert.deepEqual(state.users['default/carol']!.permissions, ['dirList', 'fileGet']);
});

test('a refused command changes nothing but the applied index, the remembered outcome of its id and the audit trail', () => {
  const state = populated();
  const refused = command({ type: 'vfs.delete', vfsId: 'home' });
  const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: refused });
  assert.equal(outcome.result.ok, false);
  assert.equal(outcome.state.appliedIndex, state.appliedIndex + 1);
  assert.deepEqual({ ...outcome.state, appliedIndex: 0, recentCommands: [], audit: [] }, { ...state, appliedIndex: 0, recentCommands: [], audit: [] });
  assert.deepEqual(outcome.state.audit!.at(-1), { index: state.appliedIndex + 1, at: refused.at, actor: refused.actor, type: 'vfs.delete', target: 'vfs home', ok: false });
  assert.deepEqual(outcome.state.recentCommands!.at(-1), { id: refused.id, index: state.appliedIndex + 1, ok: false, errors: outcome.result.ok ? [] : outcome.result.errors });
});

test('apply re-validates: a command valid when proposed is refused if the state moved on', () => {
  const state = populated();
  const putBob = command({ type: 'user.put', user: user({ username: 'bob', homeVfsId: 'shared', virtualFolders: [] }) });
  // Between validation and commit, another entry deleted alice and then the VFS bob needs.
  const moved = applyAll([command({ type: 'user.delete', siteId: 'default', username: 'alice' }), command({ type: 'vfs.delete', vfsId: 'shared' })], state);
  const outcome = apply(moved, { index: moved.appliedIndex + 1, term: 1, command: putBob });
  assert.equal(outcome.result.ok, false);
  assert.ok(!outcome.result.ok && outcome.result.errors.some((error) => error.path === 'user.homeVfsId'));
  assert.equal(outcome.state.users['default/bob'], undefined);
});

test('an entry at or below the applied index is refused and leaves the state as it is', () => {
  const state = populated();
  const outcome = apply(state, { index: state.appliedIndex, term: 1, command: command({ type: 'settings.update', settings: { serverName: 'x' } }) });
  assert.equal(outcome.result.ok, false);
  assert.equal(outcome.state, state);
});

test('users.import is all-or-nothing', () => {
  const state = populated();
  const cmd = command({ type: 'users.import', siteId: 'default', users: [user({ username: 'bob' }), user({ username: 'carol', homeVfsId: 'gone' })], vfs: [vfs({ id: 'v9' })] });
  const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: cmd });
  assert.equal(outcome.result.ok, false);
  assert.equal(outcome.state.users['default/bob'], undefined);
  assert.equal(outcome.state.vfs['v9'], undefined);
});

test('every command type applies and the view reflects it', () => {
  const commands: Command[] = [
    command({ type: 'settings.update', settings: { serverName: 'Harbour' } }),
    command({ type: 'user.put', user: user({ username: 'bob', description: 'Bob' }) }),
    command({ type: 'user.delete', siteId: 'default', username: 'alice' }),
    command({ type: 'users.import', siteId: 'default', users: [user({ username: 'zed', homeVfsId: 'v3', virtualFolders: [] })], vfs: [vfs({ id: 'v3', target: '/home/zed' })] }),
  ];
  const state: ConfigState = applyAll(commands, populated());
  const view = createView(state);
  assert.equal(view.settings.serverName, 'Harbour');
  assert.equal(view.user('default', 'alice'), undefined);
  assert.deepEqual(view.users('default').map((u) => u.username), ['bob', 'zed']);
  assert.equal(view.vfs('v3')?.target, '/home/zed');
  assert.equal(view.site('constructor'), undefined);
  assert.ok(Object.isFrozen(view.user('default', 'bob')!.permissions));
  const cleared = applyAll([
    command({ type: 'user.delete', siteId: 'default', username: 'bob' }),
    command({ type: 'user.delete', siteId: 'default', username: 'zed' }),
    command({ type: 'site.delete', siteId: 'default' }),
    command({ type: 'vfs.delete', vfsId: 'v3' }),
  ], state);
  assert.deepEqual(Object.keys(cleared.sites), []);
  assert.equal(cleared.appliedIndex, initialState().appliedIndex + 12);
});

test('an explicitly undefined setting leaves the setting as it is, as it would after the log', () => {
  const state = applyAll([command({ type: 'settings.update', settings: { serverName: undefined } })], populated());
  assert.equal(state.settings.serverName, 'Ferry');
});

test('a committed entry that a later, stricter rule would refuse replays to the same state', () => {
  // Committed by a version whose rules allowed it (say, usernames with capitals and a wider
  // description): today's validate refuses it, but apply must not, or nodes on different
  // versions would replay one log into different states.
  const state = populated();
  const legacy = command({ type: 'user.put', user: user({ username: 'Old.Style User', description: 'x'.repeat(5000) }) });
  assert.ok(validate(state, legacy, NODE).length > 0, 'the current policy refuses it');
  const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: legacy });
  assert.equal(outcome.result.ok, true);
  assert.equal(outcome.state.users['default/Old.Style User']?.description.length, 5000);
  const decoded = decodeCommand(encodeCommand(legacy));
  assert.deepEqual(encodeSnapshot(apply(state, { index: state.appliedIndex + 1, term: 1, command: decoded }).state), encodeSnapshot(outcome.state));
});

test('a command id applied twice applies once and the retry reports the first outcome', () => {
  const state = populated();
  const put = command({ type: 'user.put', user: user({ username: 'bob' }) });
  const first = apply(state, { index: state.appliedIndex + 1, term: 1, command: put });
  // The same command again, as a proposer retrying after a leader change, with a later delete in between.
  const deleted = apply(first.state, { index: first.state.appliedIndex + 1, term: 2, command: command({ type: 'user.delete', siteId: 'default', username: 'bob' }) });
  const retry = apply(deleted.state, { index: deleted.state.appliedIndex + 1, term: 2, command: put });
  assert.deepEqual(retry.result, { ok: true, duplicateOf: state.appliedIndex + 1 });
  assert.equal(retry.state.users['default/bob'], undefined, 'the retry did not put bob back');
  assert.equal(retry.state.appliedIndex, deleted.state.appliedIndex + 1);

  const refused = command({ type: 'vfs.delete', vfsId: 'gone' });
  const once = apply(state, { index: state.appliedIndex + 1, term: 1, command: refused });
  const twice = apply(once.state, { index: once.state.appliedIndex + 1, term: 1, command: refused });
  assert.equal(twice.result.ok, false);
  assert.deepEqual(twice.result, { ...once.result, duplicateOf: state.appliedIndex + 1 });
});

test('the dedup window is bounded: the oldest ids are forgotten first', () => {
  let state = populated();
  const firstId = command({ type: 'settings.update', settings: { serverName: 'A' } });
  state = apply(state, { index: state.appliedIndex + 1, term: 1, command: firstId }).state;
  for (let i = 0; i < RECENT_COMMANDS_WINDOW; i++) {
    state = apply(state, { index: state.appliedIndex + 1, term: 1, command: command({ type: 'settings.update', settings: { serverName: `n${i}` } }) }).state;
  }
  assert.equal(state.recentCommands!.length, RECENT_COMMANDS_WINDOW);
  assert.equal(state.recentCommands!.some((recent) => recent.id === firstId.id), false);
  const again = apply(state, { index: state.appliedIndex + 1, term: 1, command: firstId });
  assert.deepEqual(again.result, { ok: true });
  assert.equal(again.state.settings.serverName, 'A');
});

test('a command in a format this version does not know is refused, not half-applied', () => {
  const state = populated();
  const future = { ...command({ type: 'user.put', user: user({ username: 'bob' }) }), format: COMMAND_FORMAT + 1 };
  const outcome = apply(state, { index: state.appliedIndex + 1, term: 1, command: future });
  assert.equal(outcome.result.ok, false);
  assert.match(!outcome.result.ok ? outcome.result.errors[0]!.message : '', /command format 2 .*upgrade this node/);
  assert.equal(outcome.state.users['default/bob'], undefined);
  const current = { ...command({ type: 'user.put', user: user({ username: 'bob' }) }), format: COMMAND_FORMAT };
  assert.equal(apply(state, { index: state.appliedIndex + 1, term: 1, command: current }).result.ok, true);
});

test('the audit trail records who changed what, without secrets, and stays bounded', () => {
  let state = populated();
  const put = command({ type: 'user.put', user: user({ username: 'dave', passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2g' }) });
  state = apply(state, { index: state.appliedIndex + 1, term: 1, command: { ...put, actor: 'sa:root' } }).state;
  const last = state.audit!.at(-1)!;
  assert.deepEqual(last, { index: state.appliedIndex, at: put.at, actor: 'sa:root', type: 'user.put', target: 'user default/dave', ok: true });
  assert.ok(!JSON.stringify(state.audit).includes('argon2id'), 'no password hash in the audit trail');
  for (let i = 0; i < AUDIT_KEPT + 5; i++) {
    state = apply(state, { index: state.appliedIndex + 1, term: 1, command: command({ type: 'settings.update', settings: { serverName: `s${i}` } }) }).state;
  }
  assert.equal(state.audit!.length, AUDIT_KEPT);
  assert.equal(state.audit!.at(-1)!.index, state.appliedIndex);
});

test('a revoked token is remembered until it expires, then forgotten', () => {
  let state = populated();
  const at = 1_000_000;
  const revoke = (jti: string, expiresAt: number, now: number) =>
    apply(state, { index: state.appliedIndex + 1, term: 1, command: { ...command({ type: 'token.revoke', jti, expiresAt }), at: now } }).state;
  state = revoke('a', at + 60_000, at);
  state = revoke('b', at + 120_000, at + 1);
  assert.deepEqual(state.revokedTokens!.map((t) => t.jti), ['a', 'b']);
  state = revoke('c', at + 180_000, at + 90_000);
  assert.deepEqual(state.revokedTokens!.map((t) => t.jti), ['b', 'c'], 'a expired and was forgotten');
});
