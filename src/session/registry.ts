// The node's logged-in sessions: one per connection, whatever protocol it speaks (an SSH
// connection's channels are views of its session, not sessions of their own). Per-user session
// limits will read `count` before opening another; an administrator's session list reads `list`.
import type { Session } from './types.ts';

export class SessionRegistry {
  readonly #byUser = new Map<string, Set<Session>>();

  static #key(siteId: string, username: string): string {
    return `${siteId}/${username}`;
  }

  /** Counts `session` until the returned function is called (at its close; idempotent). */
  add(session: Session): () => void {
    const key = SessionRegistry.#key(session.connection.siteId, session.user.username);
    const sessions = this.#byUser.get(key) ?? new Set<Session>();
    sessions.add(session);
    this.#byUser.set(key, sessions);
    return () => {
      sessions.delete(session);
      if (sessions.size === 0 && this.#byUser.get(key) === sessions) this.#byUser.delete(key);
    };
  }

  /** Sessions the user holds now. */
  count(siteId: string, username: string): number {
    return this.#byUser.get(SessionRegistry.#key(siteId, username))?.size ?? 0;
  }

  list(): Session[] {
    return [...this.#byUser.values()].flatMap((sessions) => [...sessions]);
  }
}
