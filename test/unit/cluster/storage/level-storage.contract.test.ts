// The Raft core's Storage contract suite, run on the LevelDB implementation.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { LevelStorage } from '../../../../cluster/storage/level-storage.ts';
import { storageContract } from '../raft/storage-contract.ts';

const opened: { store: LevelStorage; dir: string }[] = [];

after(async () => {
  for (const { store, dir } of opened) {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

storageContract('LevelStorage', async (bootstrap) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ferry-contract-'));
  const store = await LevelStorage.open(dir, bootstrap);
  opened.push({ store, dir });
  return store;
});
