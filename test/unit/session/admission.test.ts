// The admission policy before login (session/admission.ts): per-source bound, OpenSSH-style
// random early drop with a deterministic random source, and rate-limited refusal logging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SITE_ADMISSION } from '../../../src/config/model/site.ts';
import { Admission, OTHER_SOURCES, RefusalLog, dropProbability, sourceOf } from '../../../src/session/admission.ts';
import type { AdmissionLimits, AdmissionTicket, RefusalSummary } from '../../../src/session/admission.ts';

const LIMITS: AdmissionLimits = { ...DEFAULT_SITE_ADMISSION, maxConnections: 1_000 };

/** Admits or throws; for filling the counts. */
function admit(admission: Admission, address: string, limits = LIMITS): AdmissionTicket {
  const decision = admission.admit(address, limits);
  if (!decision.admitted) throw new Error(`${address} refused: ${decision.reason}`);
  return decision.ticket;
}

describe('sourceOf', () => {
  it('counts an IPv4 address as itself and an IPv4-mapped IPv6 address as its IPv4 address', () => {
    assert.equal(sourceOf('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceOf('::ffff:192.0.2.7'), '192.0.2.7');
  });

  it('counts IPv6 addresses by their /64, however they are written', () => {
    assert.equal(sourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(sourceOf('2001:0db8:0001:0002:ffff:ffff:ffff:fffe'), '2001:db8:1:2::/64');
    assert.equal(sourceOf('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceOf('::1'), '0:0:0:0::/64');
    assert.equal(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.notEqual(sourceOf('2001:db8:1:2::1'), sourceOf('2001:db8:1:3::1'));
  });
});

describe('dropProbability', () => {
  const startups = { start: 10, rate: 30, full: 100 };

  it('is OpenSSH MaxStartups 10:30:100: none below start, rate% at start, rising linearly to certain at full', () => {
    assert.equal(dropProbability(9, startups), 0);
    assert.equal(dropProbability(10, startups), 0.3);
    assert.equal(dropProbability(55, startups), 0.65);
    assert.equal(dropProbability(99, startups), (30 + (70 * 89) / 90) / 100);
    assert.equal(dropProbability(100, startups), 1);
    assert.equal(dropProbability(500, startups), 1);
  });

  it('goes straight from none to certain when start equals full', () => {
    assert.equal(dropProbability(4, { start: 5, rate: 30, full: 5 }), 0);
    assert.equal(dropProbability(5, { start: 5, rate: 30, full: 5 }), 1);
  });
});

describe('Admission', () => {
  it('refuses a source past its bound of connections not logged in, while other sources still get in', () => {
    const admission = new Admission(() => 0.99);
    for (let i = 0; i < LIMITS.maxStartupsPerSource; i++) admit(admission, '198.51.100.3');
    assert.deepEqual(admission.admit('198.51.100.3', LIMITS), { admitted: false, reason: 'too many connections not yet logged in from this source' });
    assert.equal(admission.admit('::ffff:198.51.100.3', LIMITS).admitted, false, 'the mapped form is the same source');
    assert.equal(admission.admit('198.51.100.4', LIMITS).admitted, true);
  });

  it('frees the source slot when a connection logs in or goes, once however often it is told', () => {
    const admission = new Admission();
    const limits = { ...LIMITS, maxStartupsPerSource: 1 };
    const first = admit(admission, '203.0.113.1', limits);
    assert.equal(admission.admit('203.0.113.1', limits).admitted, false);
    first.authenticated();
    first.authenticated();
    assert.equal(admission.unauthenticatedFrom('203.0.113.1'), 0);
    const second = admit(admission, '203.0.113.1', limits);
    first.release();
    first.release();
    assert.deepEqual([admission.connections, admission.unauthenticated], [1, 1]);
    second.release();
    second.authenticated(); // after release: changes nothing
    assert.deepEqual([admission.connections, admission.unauthenticated], [0, 0]);
  });

  it('drops new connections at random from start, with the probability of the current count, and all at full', () => {
    const draws: number[] = [];
    let next = 0.5;
    const admission = new Admission(() => (draws.push(next), next));
    const limits = { ...LIMITS, maxStartupsPerSource: 100, maxStartups: { start: 2, rate: 50, full: 4 } };
    admit(admission, '10.0.0.1', limits);
    admit(admission, '10.0.0.2', limits);
    assert.deepEqual(draws, [], 'no draw below start');
    next = 0.49; // p = 0.5 at 2 not logged in
    assert.deepEqual(admission.admit('10.0.0.3', limits), { admitted: false, reason: 'random early drop' });
    next = 0.5;
    admit(admission, '10.0.0.3', limits);
    next = 0.74; // p = 0.75 at 3
    assert.equal(admission.admit('10.0.0.4', limits).admitted, false);
    next = 0.75;
    admit(admission, '10.0.0.4', limits);
    assert.deepEqual(admission.admit('10.0.0.5', limits), { admitted: false, reason: 'too many connections not yet logged in' });
    assert.deepEqual(draws, [0.49, 0.5, 0.74, 0.75]);
  });

  it('counts logged-in connections against the total but not against the bounds for strangers', () => {
    const admission = new Admission();
    const limits = { ...LIMITS, maxConnections: 3, maxStartupsPerSource: 1 };
    admit(admission, '10.0.0.1', limits).authenticated();
    admit(admission, '10.0.0.1', limits).authenticated();
    admit(admission, '10.0.0.1', limits);
    assert.deepEqual(admission.admit('10.0.0.2', limits), { admitted: false, reason: 'too many connections' });
  });
});

describe('RefusalLog', () => {
  function setup(intervalMs = 60_000) {
    let now = 1_000;
    const reports: RefusalSummary[] = [];
    const log = new RefusalLog({ intervalMs: () => intervalMs, now: () => now, report: (summary) => reports.push(summary) });
    return { log, reports, advance: (ms: number) => (now += ms) };
  }
  const PER_SOURCE = 'too many connections not yet logged in from this source';

  it('reports the first refusal from a source at once and the rest of the interval as one count', () => {
    const { log, reports, advance } = setup();
    for (let i = 0; i < 500; i++) log.note('192.0.2.9', PER_SOURCE);
    log.note('192.0.2.9', 'random early drop');
    assert.deepEqual(reports, [{ source: '192.0.2.9', first: true, count: 1, reasons: { [PER_SOURCE]: 1 }, intervalMs: 0 }]);
    advance(59_999);
    log.tick();
    assert.equal(reports.length, 1, 'nothing before the interval ends');
    advance(1);
    log.tick();
    assert.deepEqual(reports[1], { source: '192.0.2.9', first: false, count: 500, reasons: { [PER_SOURCE]: 499, 'random early drop': 1 }, intervalMs: 60_000 });
  });

  it('keeps one line per interval while a flood lasts, and reports the next flood at once after a quiet interval', () => {
    const { log, reports, advance } = setup(1_000);
    for (let second = 0; second < 3; second++) {
      for (let i = 0; i < 10; i++) log.note('192.0.2.9', PER_SOURCE);
      advance(1_000);
      log.tick();
    }
    assert.deepEqual(reports.map((r) => [r.count, r.intervalMs]), [[1, 0], [9, 1_000], [10, 1_000], [10, 1_000]]);
    advance(1_000);
    log.tick(); // a quiet interval: the source is forgotten
    log.note('192.0.2.9', PER_SOURCE);
    assert.deepEqual(reports.at(-1), { source: '192.0.2.9', first: true, count: 1, reasons: { [PER_SOURCE]: 1 }, intervalMs: 0 });
  });

  it('keeps sources apart, counting an IPv6 /64 as one, and flushes what is pending', () => {
    const { log, reports, advance } = setup();
    log.note('2001:db8:0:1::1', PER_SOURCE);
    log.note('2001:db8:0:1::2', PER_SOURCE);
    log.note('192.0.2.1', PER_SOURCE);
    assert.deepEqual(reports.map((r) => r.source), ['2001:db8:0:1::/64', '192.0.2.1']);
    advance(10);
    log.flush();
    assert.deepEqual(reports[2], { source: '2001:db8:0:1::/64', first: false, count: 1, reasons: { [PER_SOURCE]: 1 }, intervalMs: 10 });
    assert.equal(reports.length, 3);
  });

  it('bounds its memory: past 1024 sources, refusals are counted together', () => {
    const { log, reports } = setup();
    for (let i = 0; i < 1_030; i++) log.note(`10.0.${i >> 8}.${i & 255}`, PER_SOURCE);
    assert.equal(reports.length, 1_025);
    assert.equal(reports.at(-1)?.source, OTHER_SOURCES);
    log.flush();
    assert.deepEqual(reports.at(-1), { source: OTHER_SOURCES, first: false, count: 5, reasons: { [PER_SOURCE]: 5 }, intervalMs: 0 });
  });
});
