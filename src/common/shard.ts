/**
 * Deterministic splitting of an ordered list (a dataset split, an image list) into N shards run by independent
 * processes: item i goes to shard i mod N. Round-robin rather than contiguous blocks, so that every shard sees the
 * same mix of the list (a split sorted by size or class keeps shards of similar cost), and so that the item order
 * inside a shard is the list's order, which merging relies on.
 *
 * Reference: the `JOB_COMPLETION_INDEX` / `--completions` contract of Kubernetes Indexed Jobs, torch
 * `DistributedSampler` (`indices[rank::num_replicas]`, without its padding: every item is evaluated exactly once).
 */

/** Shard `index` of `count` (0 <= index < count). */
export interface Shard {
  index: number;
  count: number;
}

/**
 * Parse `k/N` (`--shard 2/8`).
 * @throws Error naming the value when it is not two integers with 0 <= k < N.
 */
export function parseShard(value: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(count) && count >= 1 && index < count)) {
    throw new Error(`--shard '${value}': expected k/N with integers 0 <= k < N, e.g. 0/4 for the first of 4 shards`);
  }
  return { index, count };
}

/** `k/N`. */
export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}

/** The indices 0..total-1 of shard `s`: i with i mod N = k, increasing. */
export function shardIndices(total: number, s: Shard): number[] {
  const out: number[] = [];
  for (let i = s.index; i < total; i += s.count) out.push(i);
  return out;
}

/** The items of `list` in shard `s`, in list order (see {@link shardIndices}). */
export function shardItems<T>(list: readonly T[], s: Shard): T[] {
  return shardIndices(list.length, s).map((i) => list[i]);
}
