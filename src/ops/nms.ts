/**
 * Non-maximum suppression on typed arrays (no tensors: it runs at the read-back boundary of post-processing).
 *
 * Reference: torchvision `ops/boxes.py` (`nms`, `batched_nms`, `_batched_nms_coordinate_trick`) and its CPU kernel
 * `csrc/ops/cpu/nms_kernel.cpp`: boxes are visited in descending score order; a visited box that is not suppressed
 * is kept and suppresses every later box whose IoU with it is strictly greater than the threshold. IoU here is
 * computed in float64 (torchvision computes in the boxes' dtype). Equal scores keep the lower index first (a
 * stable sort; torchvision leaves their order unspecified).
 */

/**
 * Indices of boxes kept by NMS, in descending score order.
 * @param boxes [D * 4] xyxy, pixels.
 * @param scores [D] scores (any monotone scale).
 * @param iouThreshold boxes with IoU > threshold against a kept, higher-scored box are suppressed.
 * @returns new Int32Array of kept indices into `boxes`, highest score first.
 * @throws Error when `boxes` is not [scores.length * 4].
 */
export function nms(boxes: ArrayLike<number>, scores: ArrayLike<number>, iouThreshold: number): Int32Array {
  const n = scores.length;
  if (boxes.length !== 4 * n) throw new Error(`nms: boxes must be [D * 4] with D = scores.length = ${n}, got length ${boxes.length}`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const areas = new Float64Array(n);
  for (let i = 0; i < n; i++) areas[i] = (boxes[4 * i + 2] - boxes[4 * i]) * (boxes[4 * i + 3] - boxes[4 * i + 1]);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    keep.push(i);
    const ix1 = boxes[4 * i];
    const iy1 = boxes[4 * i + 1];
    const ix2 = boxes[4 * i + 2];
    const iy2 = boxes[4 * i + 3];
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj];
      if (suppressed[j]) continue;
      const w = Math.max(0, Math.min(ix2, boxes[4 * j + 2]) - Math.max(ix1, boxes[4 * j]));
      const h = Math.max(0, Math.min(iy2, boxes[4 * j + 3]) - Math.max(iy1, boxes[4 * j + 1]));
      const inter = w * h;
      if (inter / (areas[i] + areas[j] - inter) > iouThreshold) suppressed[j] = 1;
    }
  }
  return Int32Array.from(keep);
}

/**
 * Class-wise NMS: boxes of different categories never suppress each other. Uses torchvision's coordinate trick:
 * every box is shifted by `category * (maxCoordinate + 1)` so that boxes of different categories cannot overlap,
 * then one `nms` runs over all of them (torchvision switches to a per-class loop above 4000 coordinates on CPU,
 * which keeps the same boxes).
 *
 * @param boxes [D * 4] xyxy, pixels.
 * @param scores [D] scores.
 * @param categories [D] integer category per box.
 * @param iouThreshold suppression threshold (IoU > threshold suppresses).
 * @returns new Int32Array of kept indices, highest score first.
 * @throws Error when the lengths disagree.
 */
export function batchedNms(
  boxes: ArrayLike<number>,
  scores: ArrayLike<number>,
  categories: ArrayLike<number>,
  iouThreshold: number,
): Int32Array {
  const n = scores.length;
  if (boxes.length !== 4 * n || categories.length !== n) {
    throw new Error(`batchedNms: expected boxes [D * 4], scores [D], categories [D]; got lengths ${boxes.length}, ${n}, ${categories.length}`);
  }
  if (n === 0) return new Int32Array(0);
  let maxCoordinate = -Infinity;
  for (let i = 0; i < boxes.length; i++) maxCoordinate = Math.max(maxCoordinate, boxes[i]);
  const shifted = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) {
    const offset = categories[i] * (maxCoordinate + 1);
    for (let k = 0; k < 4; k++) shifted[4 * i + k] = boxes[4 * i + k] + offset;
  }
  return nms(shifted, scores, iouThreshold);
}
