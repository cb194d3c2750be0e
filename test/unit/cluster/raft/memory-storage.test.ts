import { MemoryStorage } from '../../../../cluster/raft/index.ts';
import { storageContract } from './storage-contract.ts';

storageContract('MemoryStorage', (bootstrap) => new MemoryStorage(bootstrap));
