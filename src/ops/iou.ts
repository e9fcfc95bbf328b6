/**
 * Intersection over union of axis-aligned boxes.
 *
 * `boxIou` works on flat typed arrays and reproduces torchvision's float32 arithmetic operation by operation
 * (every intermediate rounded to float32 with `Math.fround`), so that exact ties, which decide the matcher's
 * low-quality matches, are the same ties torchvision sees. `generalizedBoxIouTensor` is the differentiable
 * element-wise GIoU on tensors used by the GIoU loss.
 *
 * Reference: torchvision `ops/boxes.py` (`_box_inter_union`, `box_iou`); Rezatofighi et al. 2019, "Generalized
 * Intersection over Union", and torchvision `ops/giou_loss.py`.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Pairwise IoU between two sets of xyxy boxes, in float32 arithmetic as torchvision's `box_iou` on float32
 * tensors: `inter = clamp(min(x2) - max(x1), 0) * clamp(min(y2) - max(y1), 0)`, `iou = inter / (area1 + area2 -
 * inter)`. Degenerate pairs give NaN (0/0) exactly as torchvision.
 *
 * @param boxes1 [M * 4] xyxy, pixels (ground truth in matching).
 * @param boxes2 [R * 4] xyxy, pixels (anchors in matching).
 * @returns new [M * R] float32, row-major (row = box of `boxes1`).
 * @throws Error when a length is not a multiple of 4.
 */
export function boxIou(boxes1: ArrayLike<number>, boxes2: ArrayLike<number>): Float32Array {
  if (boxes1.length % 4 !== 0 || boxes2.length % 4 !== 0) {
    throw new Error(`boxIou: expected flat [M * 4] and [R * 4] box arrays, got lengths ${boxes1.length} and ${boxes2.length}`);
  }
  const f = Math.fround;
  const m = boxes1.length / 4;
  const r = boxes2.length / 4;
  const area2 = new Float32Array(r);
  for (let j = 0; j < r; j++) area2[j] = f(f(boxes2[4 * j + 2] - boxes2[4 * j]) * f(boxes2[4 * j + 3] - boxes2[4 * j + 1]));
  const out = new Float32Array(m * r);
  for (let i = 0; i < m; i++) {
    const ax1 = f(boxes1[4 * i]);
    const ay1 = f(boxes1[4 * i + 1]);
    const ax2 = f(boxes1[4 * i + 2]);
    const ay2 = f(boxes1[4 * i + 3]);
    const area1 = f(f(ax2 - ax1) * f(ay2 - ay1));
    const row = i * r;
    for (let j = 0; j < r; j++) {
      const w = f(Math.min(ax2, boxes2[4 * j + 2]) - Math.max(ax1, boxes2[4 * j]));
      const h = f(Math.min(ay2, boxes2[4 * j + 3]) - Math.max(ay1, boxes2[4 * j + 1]));
      const inter = w > 0 && h > 0 ? f(w * h) : 0;
      out[row + j] = f(inter / f(f(area1 + area2[j]) - inter));
    }
  }
  return out;
}

/**
 * Element-wise generalized IoU of paired xyxy boxes, differentiable (torchvision `generalized_box_iou_loss`'s
 * arithmetic: `iou = inter / (union + eps)`, `giou = iou - (areaC - union) / (areaC + eps)`, C the smallest
 * enclosing box). Intersection sides are `relu(min - max)`: the same values and gradients as torchvision's masked
 * product.
 *
 * @param boxes1 [..., 4] float32 xyxy.
 * @param boxes2 [..., 4] float32 xyxy, same shape.
 * @param eps added to the denominators, default 1e-7 (torchvision's).
 * @returns [...] float32 GIoU in [-1, 1]; caller owns it.
 * @throws Error when the shapes differ or the last dimension is not 4.
 */
export function generalizedBoxIouTensor(boxes1: tf.Tensor, boxes2: tf.Tensor, eps = 1e-7): tf.Tensor {
  if (boxes1.shape.length === 0 || boxes1.shape[boxes1.rank - 1] !== 4 || boxes1.shape.join() !== boxes2.shape.join()) {
    throw new Error(`generalizedBoxIouTensor: expected two [..., 4] tensors of one shape, got [${boxes1.shape}] and [${boxes2.shape}]`);
  }
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.unstack(boxes1, boxes1.rank - 1);
    const [x1g, y1g, x2g, y2g] = tf.unstack(boxes2, boxes2.rank - 1);
    const iw = tf.relu(tf.sub(tf.minimum(x2, x2g), tf.maximum(x1, x1g)));
    const ih = tf.relu(tf.sub(tf.minimum(y2, y2g), tf.maximum(y1, y1g)));
    const inter = tf.mul(iw, ih);
    const union = tf.sub(tf.add(tf.mul(tf.sub(x2, x1), tf.sub(y2, y1)), tf.mul(tf.sub(x2g, x1g), tf.sub(y2g, y1g))), inter);
    const iou = tf.div(inter, tf.add(union, eps));
    const areaC = tf.mul(tf.sub(tf.maximum(x2, x2g), tf.minimum(x1, x1g)), tf.sub(tf.maximum(y2, y2g), tf.minimum(y1, y1g)));
    return tf.sub(iou, tf.div(tf.sub(areaC, union), tf.add(areaC, eps)));
  });
}
