/** Resizing logits to the input size, torchvision's `F.interpolate(mode='bilinear', align_corners=False)`. */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Bilinear resize of NHWC logits to `[height, width]` with torch's `F.interpolate(mode='bilinear',
 * align_corners=False)` sampling: half-pixel centres, source coordinate `(dst + 0.5) * in / out - 0.5` clamped at
 * 0 (tfjs `alignCorners=false, halfPixelCenters=true`). Differentiable on every backend.
 * @param x [N, h, w, K] float32. Not disposed.
 * @returns [N, height, width, K] float32; caller owns it.
 */
export function upsampleLogits(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  if (x.shape[1] === height && x.shape[2] === width) return tf.clone(x);
  return tf.image.resizeBilinear(x, [height, width], false, true);
}
