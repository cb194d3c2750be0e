import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNTED, StrikeBook, strikeForSessionError } from '../../../src/protector/strikes.ts';

const POLICY = { threshold: 3, windowMs: 1_000, blockDurationMs: 10_000 };

function book(options: { maxTracked?: number; maxBlocks?: number } = {}) {
  const clock = { now: 0 };
  return { clock, book: new StrikeBook({ now: () => clock.now, ...options }) };
}

describe('strike accounting', () => {
  it('blocks at the threshold within the window, and the block expires by itself', () => {
    const { clock, book: b } = book();
    assert.deepEqual(b.strike('a', 'authentication', 'r1', POLICY), { blocked: false, strikes: 1 });
    clock.now = 100;
    assert.equal(b.strike('a', 'authentication', 'r2', POLICY).blocked, false);
    clock.now = 200;
    const third = b.strike('a', 'connect-disconnect', 'r3', POLICY);
    assert.ok(third.blocked);
    assert.deepEqual(third.block, { key: 'a', since: 200, until: 10_200, strikes: ['authentication', 'authentication', 'connect-disconnect'], reason: 'r3' });
    clock.now = 10_199;
    assert.ok(b.blockOf('a'));
    clock.now = 10_200;
    assert.equal(b.blockOf('a'), undefined);
    assert.deepEqual(b.blocks(), []);
  });

  it('strikes older than the window do not count', () => {
    const { clock, book: b } = book();
    b.strike('a', 'authentication', 'r', POLICY);
    clock.now = 600;
    b.strike('a', 'authentication', 'r', POLICY);
    clock.now = 1_001; // the first left the window
    assert.deepEqual(b.strike('a', 'authentication', 'r', POLICY), { blocked: false, strikes: 2 });
    clock.now = 1_100;
    assert.equal(b.strike('a', 'authentication', 'r', POLICY).blocked, true);
  });

  it('lifting a block forgets its strikes too', () => {
    const { book: b } = book();
    for (let i = 0; i < 3; i++) b.strike('a', 'authentication', 'r', POLICY);
    assert.equal(b.lift('a'), true);
    assert.equal(b.blockOf('a'), undefined);
    assert.deepEqual(b.strike('a', 'authentication', 'r', POLICY), { blocked: false, strikes: 1 });
    assert.equal(b.lift('b'), false);
  });

  it('stays bounded under a flood of distinct addresses, keeping the most recent', () => {
    const { book: b } = book({ maxTracked: 100, maxBlocks: 10 });
    for (let i = 0; i < 10_000; i++) b.strike(`k${i}`, 'connect-disconnect', 'r', POLICY);
    assert.equal(b.tracked, 100);
    // The newest are still counted: two more strikes block k9999.
    b.strike('k9999', 'connect-disconnect', 'r', POLICY);
    assert.equal(b.strike('k9999', 'connect-disconnect', 'r', POLICY).blocked, true);
    for (let i = 0; i < 50; i++) for (let j = 0; j < 3; j++) b.strike(`x${i}`, 'authentication', 'r', POLICY);
    assert.equal(b.blocks().length, 10);
    assert.ok(b.blockOf('x49'));
    assert.equal(b.blockOf('x0'), undefined);
  });
});

describe('what counts at each sensitivity', () => {
  it('each level counts what the milder ones do, and more', () => {
    assert.deepEqual([...COUNTED.indulgent], ['authentication', 'authorization']);
    assert.ok(COUNTED.normal.has('connect-disconnect') && !COUNTED.indulgent.has('connect-disconnect'));
    assert.ok(COUNTED.strict.has('protocol-error') && !COUNTED.normal.has('protocol-error'));
    assert.ok(COUNTED.paranoid.has('no-goodbye') && !COUNTED.strict.has('no-goodbye'));
  });

  it('session errors: the client\'s mistakes count, a stat that finds nothing included; Ferry\'s own failures do not', () => {
    assert.equal(strikeForSessionError('not-found', 'download'), 'protocol-error');
    assert.equal(strikeForSessionError('permission-denied', 'list'), 'protocol-error');
    assert.equal(strikeForSessionError('subsystem-denied', 'login'), 'authorization');
    assert.equal(strikeForSessionError('not-found', 'stat'), 'protocol-error');
    assert.equal(strikeForSessionError('io', 'download'), undefined);
    assert.equal(strikeForSessionError('incomplete', 'upload'), undefined);
  });
});
