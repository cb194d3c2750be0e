// LevelStorage under the persist-before-send contract of cluster/raft/raw-node.ts, with real
// processes killed by SIGKILL: a child persists Raft Readies (entries with the hard state of
// their term, and now and then a snapshot from the leader) and reports each one ("sends its
// acknowledgement") only once save() resolved. After every kill the store must hold everything
// acknowledged, and every Ready whole or not at all: a log whose last entry's term differs
// from the hard state's term would be a Ready split by the crash. (A kill -9 keeps what reached
// the OS; losing power, which also drops what was not fsynced, is modelled in test/cluster/sim.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { LevelStorage } from '../../../../cluster/storage/level-storage.ts';

const storageModule = JSON.stringify(path.resolve('cluster/storage/level-storage.ts'));

// Ready n: one entry at the next index with term n, hard state {term n, commit: index - 1};
// every 9th Ready instead installs a snapshot at the next index (term n), as from a leader.
const writer = (dir: string): string => `import { LevelStorage } from ${storageModule};
  const s = await LevelStorage.open(${JSON.stringify(dir)}, { voters: ['n1', 'n2'], learners: [] });
  let n = s.hardState().term;
  const data = new Uint8Array(512).fill(7);
  for (;;) {
    n++;
    const index = s.lastIndex() + 1;
    if (n % 9 === 0) {
      const snapshot = { metadata: { index, term: n, confState: { voters: ['n1', 'n2'], learners: [] } }, data };
      await s.save({ snapshot, hardState: { term: n, vote: 'n2', commit: index } }, { sync: true });
    } else {
      await s.save({ entries: [{ index, term: n, type: 'normal', data }], hardState: { term: n, vote: 'n2', commit: index - 1 } }, { sync: true });
    }
    process.stdout.write('acked ' + n + ' ' + index + '\\n');
  }`;

function runUntilKilled(code: string, afterAcks: number): Promise<{ lastAck: { term: number; index: number } | undefined; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buffer = '';
    let acks = 0;
    let lastAck: { term: number; index: number } | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        const [, term, index] = line.split(' ');
        lastAck = { term: Number(term), index: Number(index) };
        if (++acks === afterAcks) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve({ lastAck, signal });
    });
  });
}

test('after kill -9 at any moment, the store holds every acknowledged Ready, each whole', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-log-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const afterAcks of [23, 41, 7, 60]) {
    const { lastAck, signal } = await runUntilKilled(writer(dir), afterAcks);
    assert.equal(signal, 'SIGKILL');
    assert.ok(lastAck !== undefined, 'the child acknowledged Readies before it was killed');
    const store = await LevelStorage.open(dir);
    try {
      const hs = store.hardState();
      const last = store.lastIndex();
      assert.ok(hs.term >= lastAck.term, `acknowledged Ready of term ${lastAck.term} survived (hard state term ${hs.term})`);
      assert.ok(last >= lastAck.index, `acknowledged index ${lastAck.index} survived (last index ${last})`);
      assert.equal(store.term(last), hs.term, 'the last entry and the hard state come from the same Ready');
      assert.ok(hs.commit <= last, 'commit never points past the log');
      if (hs.term % 9 === 0) assert.equal(store.snapshot().metadata.index, last, 'a snapshot Ready is whole: log replaced, hard state with it');
    } finally {
      await store.close();
    }
  }
});
