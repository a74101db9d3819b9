// How logical keys become Redis keys, so every multi-key script keeps its keys in one Redis Cluster slot.
import { ownerOf } from './store.ts';

/** The part of a Redis key that picks its cluster slot: the first non-empty `{…}`, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/**
 * The Redis key for logical `key` under `prefix`. A key written beside another (`{owner}suffix`, see keyBeside) is
 * stored as `<prefix><owner><suffix>` on one server, the name it always had, and as `{<tag of prefix+owner>}suffix`
 * on a Cluster, which Redis hashes to the owner's slot.
 */
export function physicalKey(prefix: string, key: string, cluster: boolean): string {
  const owner = ownerOf(key);
  if (owner === undefined) return prefix + key;
  const suffix = key.slice(owner.length + 2);
  return cluster ? `{${hashTag(prefix + owner)}}${suffix}` : prefix + owner + suffix;
}

/** The key beside `physical` that a script also touches, in the same slot on a Cluster. */
export function physicalBeside(physical: string, suffix: string): string {
  return `{${hashTag(physical)}}${suffix}`;
}
