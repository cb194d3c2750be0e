// The data directory holds the whole node: config log (LevelDB), master secret key, logs, the
// control socket. One node per directory: a pid lock refuses a second start clearly instead of
// letting two processes fight over LevelDB.
import { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';

export interface DataDirLock {
  release(): void;
}

export function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // An existing directory keeps its mode from mkdir; tighten it: it holds the secret key.
  chmodSync(dataDir, 0o700);
  mkdirSync(path.join(dataDir, 'logs'), { recursive: true, mode: 0o750 });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockDataDir(dataDir: string): DataDirLock {
  const pidFile = path.join(dataDir, 'ferry.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(pidFile, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return {
        release: () => {
          try {
            if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new Error(
          `another Ferry node (pid ${pid}) is running with data directory ${dataDir}; stop it first or use another --data directory`,
        );
      }
      rmSync(pidFile, { force: true }); // stale: left by a node that crashed
    }
  }
  throw new Error(`could not lock data directory ${dataDir}`);
}
