/**
 * Deterministic seeding without global state. A `SeedSequence` hands out 32-bit seeds for tfjs random ops
 * (`tf.randomNormal(..., seed)`), data shuffling and augmentation, so a run is reproducible from one integer.
 */

/** splitmix32 step: a well-mixed 32-bit hash of the state (Steele et al. 2014, "Fast splittable PRNGs"). */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A stream of seeds derived from one root seed. */
export class SeedSequence {
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
    this.state = mix32(seed >>> 0);
  }

  /** The next seed, an integer in [0, 2^32). */
  next(): number {
    this.state = mix32(this.state);
    return this.state;
  }

  /** A uniform float in [0, 1). */
  uniform(): number {
    return this.next() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** An independent child stream (for a data loader worker, an augmentation, ...). */
  spawn(): SeedSequence {
    return new SeedSequence(this.next() | 0);
  }

  /** Fisher-Yates shuffle of `items` in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
