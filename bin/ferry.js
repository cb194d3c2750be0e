#!/usr/bin/env node
// The `ferry` command. Ferry runs its TypeScript sources directly (Node 24 type stripping), so
// it needs Node >= 24.7; when started by an older node on the PATH (Debian ships Node 20) it
// re-executes itself with the Node 24 that `npm install` put in node_modules.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 24 || (major === 24 && minor >= 7)) {
  await import('../src/cli/main.ts');
} else {
  const bundled = path.resolve(import.meta.dirname, '../node_modules/node/bin/node');
  if (!existsSync(bundled)) {
    console.error(`ferry needs Node.js 24.7 or newer (this is ${process.version}). Run \`npm install\` in the Ferry checkout: it installs Node 24 into node_modules.`);
    process.exit(1);
  }
  const result = spawnSync(bundled, [import.meta.filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
