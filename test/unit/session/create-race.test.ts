// The create/modify race: a user with filePut but not fileModify may create a file, never replace
// one, even one that appears between the Session's check and its act. Many creators race for
// one name each round (SFTP-style handles, whole-stream uploads, renames and a creator outside
// Ferry); exactly one may win, and the name holds the winner's bytes.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../src/config/model/permissions.ts';
import type { Session } from '../../../src/session/types.ts';
import { createSessionFixture } from '../../helpers/session-fixture.ts';

const NO_MODIFY = PERMISSIONS.filter((p) => p !== 'fileModify');
const ROUNDS = 8;
const RACERS = 12;

async function viaHandle(session: Session, name: string, content: string): Promise<string> {
  const file = await session.open(name, { write: true, create: true, truncate: true });
  await file.write(0, Buffer.from(content));
  await file.close();
  return content;
}

async function viaStream(session: Session, name: string, content: string): Promise<string> {
  const upload = await session.openWrite(name, { truncate: true });
  upload.end(content);
  await finished(upload);
  return content;
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Settles every racer and returns the contents of those that reported success. */
async function winners(racers: Promise<string>[]): Promise<string[]> {
  const results = await Promise.allSettled(racers);
  for (const r of results) if (r.status === 'rejected') assert.ok(['exists', 'permission-denied'].includes((r.reason as { kind?: string }).kind ?? ''), String(r.reason));
  return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
}

describe('create versus modify', () => {
  it('a creator without fileModify never overwrites a file that appeared after its check', async (t) => {
    const fx = await createSessionFixture({ permissions: NO_MODIFY });
    t.after(fx.cleanup);
    for (let round = 0; round < ROUNDS; round++) {
      const name = `/race-${round}`;
      const racers: Promise<string>[] = [];
      for (let i = 0; i < RACERS; i++) racers.push((i % 2 === 0 ? viaHandle : viaStream)(fx.session, name, `session ${i} `.repeat(100)));
      // A creator outside Ferry, which opens exclusively itself: it either wins or loses cleanly.
      // It starts a little later each round, so that it lands before, between and after the
      // Session's checks and creates.
      const outside = 'created outside '.repeat(100);
      racers.push(
        turns(round).then(() => writeFile(path.join(fx.homeDir, name), outside, { flag: 'wx' })).then(
          () => outside,
          (error: NodeJS.ErrnoException) => {
            throw Object.assign(error, { kind: error.code === 'EEXIST' ? 'exists' : error.code });
          },
        ),
      );
      const won = await winners(racers);
      assert.equal(won.length, 1, `round ${round}: ${won.length} creators reported success`);
      assert.equal(readFileSync(path.join(fx.homeDir, name), 'utf8'), won[0], `round ${round}: the winner's content was replaced`);
    }
  });

  it('a rename without fileModify never replaces a target that appeared after its check', async (t) => {
    const fx = await createSessionFixture({ permissions: NO_MODIFY });
    t.after(fx.cleanup);
    for (let round = 0; round < ROUNDS; round++) {
      const target = `/target-${round}`;
      const racers: Promise<string>[] = [];
      for (let i = 0; i < RACERS; i++) {
        const source = `/source-${round}-${i}`;
        writeFileSync(path.join(fx.homeDir, source), `source ${i}`);
        // posix-rename semantics: would replace the target if the user could modify it.
        racers.push(fx.session.rename(source, target, { overwrite: true }).then(() => `source ${i}`));
      }
      const won = await winners(racers);
      assert.equal(won.length, 1, `round ${round}: ${won.length} renames reported success`);
      assert.equal(readFileSync(path.join(fx.homeDir, target), 'utf8'), won[0], `round ${round}: the first rename's file was replaced`);
    }
  });

  it('a user with fileModify still replaces a file that appeared after the check', async (t) => {
    const fx = await createSessionFixture();
    t.after(fx.cleanup);
    const racers: Promise<string>[] = [];
    for (let i = 0; i < RACERS; i++) racers.push((i % 2 === 0 ? viaHandle : viaStream)(fx.session, '/shared', `session ${i}`));
    const won = await winners(racers);
    assert.equal(won.length, RACERS, 'every upload of a user who may modify succeeds');
    assert.ok(won.includes(readFileSync(path.join(fx.homeDir, 'shared'), 'utf8')));
  });
});
