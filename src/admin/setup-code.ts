// The one-time setup code of a node without a SuperAdmin: printed on the node's terminal (and
// by `ferry genssc`), it proves that whoever calls POST /api/v1/setup can see the node's
// console or run privileged commands on it, not merely reach its port. Node-local and in memory
// only: a restart or `ferry genssc` makes a new one, and it expires after five minutes.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';

export const SETUP_CODE_LIFETIME_MS = 5 * 60_000;
// No 0/O or 1/I/L: read off a screen and typed by hand.
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

function digest(code: string): Buffer {
  return createHash('sha256').update(code.toUpperCase().replace(/[\s-]/g, '')).digest();
}

export class SetupCodes {
  #current: { digest: Buffer; expiresAt: number } | undefined;
  #failures = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** A new code (the previous one stops working), e.g. `K7QM-3XHP-TR9A`. */
  issue(): { code: string; expiresAt: number } {
    let raw = '';
    for (let i = 0; i < 12; i++) raw += ALPHABET[randomInt(ALPHABET.length)];
    const code = `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
    const expiresAt = this.#now() + SETUP_CODE_LIFETIME_MS;
    this.#current = { digest: digest(code), expiresAt };
    this.#failures = 0;
    return { code, expiresAt };
  }

  /**
   * Spends the code when it matches and has not expired. Ten wrong guesses void it (a new one
   * must be issued), so the code cannot be brute-forced within its five minutes.
   */
  redeem(code: string): 'ok' | 'wrong' | 'expired' | 'none' {
    const current = this.#current;
    if (current === undefined) return 'none';
    if (this.#now() >= current.expiresAt) {
      this.#current = undefined;
      return 'expired';
    }
    if (!timingSafeEqual(digest(code), current.digest)) {
      if (++this.#failures >= 10) this.#current = undefined;
      return 'wrong';
    }
    this.#current = undefined;
    return 'ok';
  }
}
