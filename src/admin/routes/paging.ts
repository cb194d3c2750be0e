// List routes page with `?limit=&after=`: `after` is the last key of the previous page, so a
// page is found by binary search in the sorted list and stays fast with 100,000 entries.
import { Type } from 'typebox';
import type { TSchema } from 'typebox';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export const PAGE_QUERY = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, description: `entries per page (default ${DEFAULT_PAGE})` })),
    after: Type.Optional(Type.String({ maxLength: 256, description: 'the `next` value of the previous page' })),
  },
  { additionalProperties: false },
);

export function page<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next: Type.Optional(Type.String({ description: 'pass as `after` for the next page; absent on the last page' })) });
}

/**
 * One page of `sorted` (ascending by `keyOf`). `normalize` turns a client's `after` into the
 * key space (e.g. zero-padding numbers).
 */
export function pageOf<T, R = T>(
  sorted: readonly T[],
  keyOf: (item: T) => string,
  query: { limit?: number; after?: string },
  normalize: (key: string) => string = (key) => key,
  present: (item: T) => R = (item) => item as unknown as R,
): { items: R[]; next?: string } {
  const limit = query.limit ?? DEFAULT_PAGE;
  let start = 0;
  if (query.after !== undefined) {
    const after = normalize(query.after);
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keyOf(sorted[mid] as T) <= after) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const slice = sorted.slice(start, start + limit);
  const items = slice.map(present);
  const more = start + limit < sorted.length;
  return more ? { items, next: rawKey(keyOf(slice[slice.length - 1] as T)) } : { items };
}

function rawKey(key: string): string {
  return /^0+[0-9]/.test(key) ? key.replace(/^0+/, '') : key;
}
