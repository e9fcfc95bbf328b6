/**
 * Balanced sampling of positive and negative training examples, torchvision's `BalancedPositiveNegativeSampler`
 * semantics: per image, at most `batchSizePerImage * positiveFraction` positives (label >= 1), the rest of the
 * batch from negatives (label 0), each drawn without replacement; label -1 is never drawn.
 *
 * Which examples are drawn is a `SubsetSampler`: random (the default, seeded so that a run repeats) or the first
 * ones in index order, a deterministic hook that makes losses comparable with a reference patched the same way.
 *
 * Reference: torchvision `models/detection/_utils.py` (`BalancedPositiveNegativeSampler`).
 */

/**
 * Chooses `count` distinct entries of `candidates` (ascending indices); returns them in any order.
 * `count <= candidates.length` always holds when called by `balancedSample`.
 */
export type SubsetSampler = (candidates: Int32Array, count: number) => Int32Array;

/** Deterministic: the first `count` candidates (lowest indices). */
export const firstSubsetSampler: SubsetSampler = (candidates, count) => candidates.slice(0, count);

/**
 * Uniform draws without replacement (a partial Fisher–Yates shuffle) from a mulberry32 stream seeded by `seed`;
 * the stream advances across calls, so one sampler gives different draws each step and the same sequence each run.
 */
export function randomSubsetSampler(seed: number): SubsetSampler {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return (candidates, count) => {
    const a = candidates.slice();
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(next() * (a.length - i));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a.slice(0, count);
  };
}

/**
 * Sample one image's examples.
 * @param labels [R] per example: >= 1 positive, 0 negative, -1 ignored.
 * @param batchSizePerImage examples drawn at most (RPN: 256; RoI heads: 512).
 * @param positiveFraction the largest share of positives (RPN: 0.5; RoI heads: 0.25).
 * @param sampler which examples are drawn.
 * @returns `positive` and `negative` indices, each ascending (torchvision's `torch.where` of the masks).
 */
export function balancedSample(
  labels: ArrayLike<number>,
  batchSizePerImage: number,
  positiveFraction: number,
  sampler: SubsetSampler,
): { positive: Int32Array; negative: Int32Array } {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= 1) pos.push(i);
    else if (labels[i] === 0) neg.push(i);
  }
  const numPos = Math.min(pos.length, Math.trunc(batchSizePerImage * positiveFraction));
  const numNeg = Math.min(neg.length, batchSizePerImage - numPos);
  const sort = (a: Int32Array) => a.sort();
  return { positive: sort(sampler(Int32Array.from(pos), numPos)), negative: sort(sampler(Int32Array.from(neg), numNeg)) };
}
