// Public API of the Raft core. cluster/replica drives a RawNode (see raw-node.ts for the loop
// and its persist-before-send contract); cluster/storage implements Storage.
export { RawNode } from './raw-node.ts';
export type { Ready, Status, ProgressStatus } from './raw-node.ts';
export type { RaftConfig } from './raft.ts';
export { MemoryStorage, CompactedError, UnavailableError, SnapshotOutOfDateError } from './storage.ts';
export type { Storage, InitialState } from './storage.ts';
export { applyConfChange, decodeConfChange, encodeConfChange } from './confchange.ts';
export type { ConfChange, ConfChangeType, ConfChangeRecord } from './confchange.ts';
export { seededRandom } from './random.ts';
export type { Random } from './random.ts';
export { none, message, isLocalMessage } from './types.ts';
export type {
  NodeId, Entry, EntryType, HardState, ConfState, Snapshot, SnapshotMetadata, SoftState, StateRole, ReadState, Message, MessageType,
} from './types.ts';
