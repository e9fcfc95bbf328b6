/**
 * numpy and Python semantics that the COCO evaluator reproduces bit for bit, so its thresholds, sort orders, means
 * and printed numbers equal pycocotools' exactly. No evaluation logic here: each function names the numpy or Python
 * call it stands for.
 *
 * References: numpy `linspace` (numpy/core/function_base.py), `argsort(kind='mergesort')`, `searchsorted(side='left')`,
 * `unique`, `spacing`, `mean` (pairwise summation, see `../numpy_sum.ts`); CPython `float.__format__` ('f' presentation,
 * correctly rounded, ties to even).
 */

import { pairwiseSum } from '../numpy_sum';

/** `np.spacing(1)`: the gap between 1 and the next float64 (2^-52), pycocotools' guard in `tp / (fp + tp + eps)`. */
export const NP_SPACING_1 = 2.220446049250313e-16;

/**
 * numpy `linspace(start, stop, num, endpoint=True)` with numpy's arithmetic (`i * step + start`, last = stop), so
 * thresholds compare equal to pycocotools' bit for bit.
 * @returns `[num]` float64 values.
 */
export function linspace(start: number, stop: number, num: number): number[] {
  const div = num - 1;
  const delta = stop - start;
  const out = new Array<number>(num);
  if (div > 0) {
    const step = delta / div;
    for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  } else {
    for (let i = 0; i < num; i++) out[i] = i * delta + start;
  }
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** `np.unique(ids)` for numbers: sorted ascending, duplicates removed. Returns a new array. */
export function sortedUnique(ids: readonly number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

/**
 * `np.mean` of a 1-D float64 list (numpy's pairwise summation), or -1 for an empty list (pycocotools' `summarize`
 * convention for "undefined", `mean_s = -1 if len(s[s > -1]) == 0`).
 */
export function meanOrMinusOne(values: ArrayLike<number>): number {
  if (values.length === 0) return -1;
  return (0 + pairwiseSum(values, 0, values.length)) / values.length;
}

/**
 * `idx[np.argsort(-score[idx], kind='mergesort')]` in place on `idx[start..end)`: a stable sort by descending
 * `score[idx[i]]`; ties keep their current order.
 */
export function argsortDescStable(idx: Int32Array, score: Float64Array, start = 0, end = idx.length): void {
  const n = end - start;
  if (n < 2) return;
  let sorted = true;
  for (let i = start + 1; i < end; i++) if (score[idx[i]] > score[idx[i - 1]]) { sorted = false; break; }
  if (sorted) return;
  // Bottom-up merge sort on typed arrays: runs of 16 by insertion sort, then merges that take from the left run
  // unless the right one is strictly higher (stable).
  const RUN = 16;
  for (let lo = start; lo < end; lo += RUN) {
    const hi = Math.min(end, lo + RUN);
    for (let i = lo + 1; i < hi; i++) {
      const v = idx[i];
      const s = score[v];
      let j = i - 1;
      while (j >= lo && score[idx[j]] < s) {
        idx[j + 1] = idx[j];
        j--;
      }
      idx[j + 1] = v;
    }
  }
  if (n <= RUN) return;
  let src: Int32Array = idx.slice(start, end);
  let dst: Int32Array = new Int32Array(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let w = lo;
      while (i < mid && j < hi) dst[w++] = score[src[j]] > score[src[i]] ? src[j++] : src[i++];
      while (i < mid) dst[w++] = src[i++];
      while (j < hi) dst[w++] = src[j++];
    }
    const tmp = src;
    src = dst;
    dst = tmp;
  }
  idx.set(src, start);
}

/**
 * Python's `'{:0.Nf}'.format(x)`: correctly rounded, ties (exact binary halves) to even.
 * @param x any float64 (NaN and infinities print as Python prints them).
 * @param digits digits after the point, 0..75.
 */
export function formatFixedPython(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const neg = x < 0 || Object.is(x, -0);
  const ax = Math.abs(x);
  let s = ax.toFixed(digits); // exact value, ties away from zero
  const EXTRA = 25;
  const long = ax.toFixed(Math.min(100, digits + EXTRA));
  const tail = long.slice(long.length - EXTRA);
  if (tail === '5' + '0'.repeat(EXTRA - 1)) {
    let truncated = long.slice(0, long.length - EXTRA);
    if (digits === 0) truncated = truncated.slice(0, -1); // drop the '.'
    const lastDigit = Number(truncated[truncated.length - 1]);
    if (lastDigit % 2 === 0) s = truncated;
  }
  return (neg ? '-' : '') + s;
}

/** Python's `'{:>n}'.format(s)` (`str.rjust`). */
export function padLeft(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/** Python's `'{:<n}'.format(s)` (`str.ljust`). */
export function padRight(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
