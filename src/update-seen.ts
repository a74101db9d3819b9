// Read-modify-write of a JSON value starting from a copy already in hand: one round trip when it has not moved.
import { updateJson, type Store } from './store/store.ts';

/**
 * Like updateJson, but first tries `seen` (the stored text as it was last read or written here) as the expected
 * value, so the compare-and-set goes out without reading the key again. When the value moved since, or `change`
 * declines the copy in hand (it may be stale), it falls back to updateJson's read and retry: never a lost update.
 */
export async function updateSeen<T>(
  store: Store,
  key: string,
  seen: string | null | undefined,
  change: (current: T | null) => T | null | undefined,
): Promise<T | null> {
  if (seen !== undefined) {
    const next = change(seen === null ? null : (JSON.parse(seen) as T));
    if (next !== undefined) {
      const nextRaw = next === null ? null : JSON.stringify(next);
      if (await store.compareAndSet(key, seen, nextRaw)) return next;
    }
  }
  return updateJson(store, key, change);
}
