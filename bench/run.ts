// `npm run bench`: every bench scenario, one after another, each in its own process (so one
// bench's servers and memory never colour the next one's figures). Exits non-zero if any failed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

// The long Raft chaos soak (raft-soak.ts) is run on its own, not here.
const BENCHES = ['sftp.ts', 'ftp.ts', 'raft.ts', 'cluster.ts', 'admin.ts'];

let failed = 0;
for (const name of BENCHES) {
  const file = path.join(import.meta.dirname, name);
  if (!existsSync(file)) continue;
  console.log(`\n=== bench/${name} ===`);
  const result = spawnSync(process.execPath, [file], { stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    console.error(`bench/${name} failed (${result.signal ?? `exit ${result.status}`})`);
    failed++;
  }
  // Ctrl-C reaches the bench too; it cleans up and exits 130. Do not start the next one.
  if (result.status === 130 || result.signal === 'SIGINT') break;
}
process.exitCode = failed > 0 ? 1 : 0;
