// Randomness is a parameter (STYLE.md point 6): the caller passes a seeded generator, so a
// simulation replays exactly from its seed. Production seeds it from a CSPRNG once at start.

/** Source of election-timeout jitter. `int(n)` returns an integer in [0, n). */
export interface Random {
  int(n: number): number;
}

/** mulberry32: tiny, fast, good enough for jitter and simulation schedules; not for secrets. */
export function seededRandom(seed: number): Random & { next(): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}
