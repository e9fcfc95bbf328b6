/**
 * numpy's pairwise summation of float64 (`pairwise_sum_DOUBLE` in numpy/core/src/umath/loops_utils.h, block size
 * 128, 8 accumulators), so that sums and means over evaluator arrays equal `np.sum` / `np.mean` bit for bit. Shared
 * by the COCO and VOC evaluators.
 *
 * @param a the values (float64 semantics).
 * @param start index of the first value summed.
 * @param n number of values summed.
 * @returns their sum in numpy's association order.
 */
export function pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j];
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = r[0] + r[1] + (r[2] + r[3]) + (r[4] + r[5] + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}
