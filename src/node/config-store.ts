// The node's configuration: the config state machine (config/apply) driven by the Raft
// replica (cluster/replica), today with this node as its only voter; joining a cluster does not
// change this interface. The data plane only sees the frozen views it publishes, once per
// applied batch.
import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Entry } from '../../cluster/raft/types.ts';
import { RaftReplica } from '../../cluster/replica/raft-replica.ts';
import type { Replica, StateMachine } from '../../cluster/replica/raft-replica.ts';
import { apply, findRecent, outcomeOf } from '../config/apply.ts';
import type { ApplyResult } from '../config/apply.ts';
import { ConfigDecodeError, decodeCommand, decodeSnapshot, encodeCommand, encodeSnapshot } from '../config/codec.ts';
import type { Command } from '../config/commands.ts';
import { initialState } from '../config/initial.ts';
import type { ConfigState } from '../config/state.ts';
import { validate } from '../config/validate.ts';
import type { NodeFacts, ValidationError } from '../config/validate.ts';
import { createView, deepFreeze } from '../config/view.ts';
import type { ConfigSource, ConfigView } from '../config/view.ts';

export type ProposeResult = ApplyResult & { readonly index: number };

export interface ConfigStore extends ConfigSource {
  /**
   * Validates, then appends and applies `command`. Rejects with ConfigValidationError (nothing
   * appended) when it is invalid now; resolves `ok: false` if it went stale before its turn. A
   * command id applied recently resolves with that first outcome (`duplicateOf` its index).
   */
  propose(command: Command): Promise<ProposeResult>;
  validate(command: Command): readonly ValidationError[];
  state(): ConfigState;
  /** This node's own facts (its data directory), against which it validates and serves. */
  readonly facts: NodeFacts;
  close(): Promise<void>;
}

export interface ConfigStoreOptions {
  readonly dataDir: string;
  /** This node's persisted id (node/node-id.ts); the only voter of a node of one. */
  readonly nodeId: string;
  /** Snapshot and compact the log every this many entries (default 1000). */
  readonly snapshotEvery?: number;
  /** Background problems (a failed snapshot, a throwing subscriber); default: ignored. */
  readonly onError?: (error: Error) => void;
  /**
   * Builds the replica that drives the config state machine. Default: a cluster of one with
   * its log in `configLogDir(dataDir)`. The Raft replica plugs in here.
   */
  readonly openReplica?: (stateMachine: StateMachine<ApplyResult>) => Promise<Replica<ApplyResult>>;
}

export class ConfigValidationError extends Error {
  readonly errors: readonly ValidationError[];
  constructor(errors: readonly ValidationError[]) {
    super(`invalid configuration change: ${errors.map((e) => `${e.path || '(command)'} ${e.message}`).join('; ')}`);
    this.name = 'ConfigValidationError';
    this.errors = errors;
  }
}

/** The LevelDB directory holding the config log inside a node's data directory. */
export function configLogDir(dataDir: string): string {
  return path.join(dataDir, 'config');
}

/** Applies log entries to the config state; never throws on a bad entry (it is refused). */
class ConfigMachine implements StateMachine<ApplyResult> {
  state: ConfigState = deepFreeze(initialState());
  onApplied: () => void = () => undefined;

  apply(entry: Entry): ApplyResult {
    const result = this.#applyEntry(entry);
    // Callers of state() cannot corrupt it; only what apply created is frozen here.
    deepFreeze(this.state);
    return result;
  }

  afterApply(): void {
    this.onApplied();
  }

  #applyEntry(entry: Entry): ApplyResult {
    if (entry.type !== 'normal' || entry.data.byteLength === 0) {
      // A membership change (the replica records it) or a new leader's no-op: it takes its index.
      this.state = { ...this.state, appliedIndex: entry.index };
      return { ok: true };
    }
    let command: Command;
    try {
      command = decodeCommand(entry.data);
    } catch (error) {
      const errors = error instanceof ConfigDecodeError ? error.errors : [{ path: '', message: String(error) }];
      this.state = { ...this.state, appliedIndex: entry.index };
      return { ok: false, errors };
    }
    const outcome = apply(this.state, { index: entry.index, term: entry.term, command });
    this.state = outcome.state;
    return outcome.result;
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }

  restore(data: Uint8Array, index: number): void {
    const state = decodeSnapshot(data);
    if (state.appliedIndex !== index) throw new Error(`config snapshot at log index ${index} holds state applied up to ${state.appliedIndex}`);
    this.state = deepFreeze(state);
  }
}

export async function openConfigStore(options: ConfigStoreOptions): Promise<ConfigStore> {
  const onError = options.onError ?? (() => undefined);
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const dataDir = path.resolve(options.dataDir);
  const facts: NodeFacts = { dataDir, realDataDir: await realpath(dataDir) };
  const machine = new ConfigMachine();
  const openReplica =
    options.openReplica ??
    ((stateMachine: StateMachine<ApplyResult>) =>
      RaftReplica.open({ dir: configLogDir(options.dataDir), stateMachine, nodeId: options.nodeId, snapshotEvery: options.snapshotEvery, onError }));
  const replica = await openReplica(machine);
  return new Store(machine, replica, facts, onError);
}

class Store implements ConfigStore {
  readonly #machine: ConfigMachine;
  readonly #replica: Replica<ApplyResult>;
  readonly #onError: (error: Error) => void;
  readonly facts: NodeFacts;
  readonly #listeners = new Set<(view: ConfigView) => void>();
  #view: { state: ConfigState; view: ConfigView } | undefined;

  constructor(machine: ConfigMachine, replica: Replica<ApplyResult>, facts: NodeFacts, onError: (error: Error) => void) {
    this.#machine = machine;
    this.#replica = replica;
    this.facts = facts;
    this.#onError = onError;
    machine.onApplied = () => this.#publish();
  }

  async propose(command: Command): Promise<ProposeResult> {
    // A retry of a command that was applied already (its proposer lost the answer) reports the
    // first outcome: validating it again would refuse it against the state it produced.
    const first = findRecent(this.#machine.state, command.id);
    if (first) return { ...outcomeOf(first), duplicateOf: first.index, index: first.index };
    const errors = this.validate(command);
    if (errors.length > 0) throw new ConfigValidationError(errors);
    const { index, result } = await this.#replica.propose(encodeCommand(command));
    return { ...result, index };
  }

  validate(command: Command): readonly ValidationError[] {
    return validate(this.#machine.state, command, this.facts);
  }

  state(): ConfigState {
    return this.#machine.state;
  }

  current(): ConfigView {
    const state = this.#machine.state;
    if (this.#view?.state !== state) this.#view = { state, view: createView(state) };
    return this.#view.view;
  }

  subscribe(listener: (view: ConfigView) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #publish(): void {
    if (this.#listeners.size === 0) return;
    const view = this.current();
    for (const listener of this.#listeners) {
      try {
        listener(view);
      } catch (error) {
        this.#onError(error as Error);
      }
    }
  }

  close(): Promise<void> {
    return this.#replica.close();
  }
}
