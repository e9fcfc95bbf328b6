/**
 * Segmentation losses.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Options of `pixelCrossEntropy`. */
export interface PixelCrossEntropyOptions {
  /** Target value of pixels that count for nothing (VOC void). Default 255. */
  ignoreIndex?: number;
  /**
   * Per-class weights w[k], length K (torch's `weight`): each pixel's loss is multiplied by w[target] and the mean
   * divides by the sum of the weights of the counted pixels. Default: all 1.
   */
  classWeights?: readonly number[];
}

/**
 * Pixel-wise softmax cross-entropy with an ignore index: torch's
 * `F.cross_entropy(logits, target, weight=w, ignore_index=255)` with reduction `mean`:
 *
 *   loss = Σ_p w[t_p] · (−log softmax(logits_p)[t_p]) / Σ_p w[t_p],   over pixels p with t_p ≠ ignoreIndex.
 *
 * The ignore mask and the per-pixel weights come from `targets` only (one-hot and comparisons of the targets,
 * which are not differentiated); the gradient flows through `logSoftmax(logits)` alone.
 *
 * @param logits [N, H, W, K] float32 pre-softmax scores, NHWC. Not disposed.
 * @param targets [N, H, W] int32 class indices in 0..K-1, or `ignoreIndex`. Not disposed.
 * @returns scalar float32; caller owns it. When no pixel counts (all ignored, or a zero total weight) the loss is
 *   0 with a zero gradient, where torch gives NaN: a batch of void crops must not stop training.
 * @throws Error when shapes disagree or `classWeights` does not have K entries.
 * Reference: torch `nn.functional.cross_entropy` (`ignore_index`, weighted mean); torchvision
 * `references/segmentation/train.py` (`criterion`).
 */
export function pixelCrossEntropy(logits: tf.Tensor4D, targets: tf.Tensor3D, opts: PixelCrossEntropyOptions = {}): tf.Scalar {
  const ignoreIndex = opts.ignoreIndex ?? 255;
  if (logits.rank !== 4 || targets.rank !== 3 || logits.shape.slice(0, 3).some((d, i) => d !== targets.shape[i])) {
    throw new Error(`pixelCrossEntropy takes logits [N, H, W, K] and targets [N, H, W], got [${logits.shape}] and [${targets.shape}]`);
  }
  const k = logits.shape[3];
  if (opts.classWeights && opts.classWeights.length !== k) {
    throw new Error(`pixelCrossEntropy: classWeights has ${opts.classWeights.length} entries, expected K = ${k}`);
  }
  return tf.tidy(() => {
    const t = targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32');
    // An index outside 0..K-1 (the ignore value) gives an all-zero one-hot row: the pixel counts for nothing.
    const valid = tf.cast(tf.notEqual(t, ignoreIndex), 'float32'); // [N, H, W]
    const oneHot = tf.mul(tf.cast(tf.oneHot(t, k), 'float32'), tf.expandDims(valid, -1)); // [N, H, W, K]
    const weighted = opts.classWeights ? tf.mul(oneHot, tf.tensor1d([...opts.classWeights], 'float32')) : oneHot;
    const total = tf.sum(weighted); // Σ_p w[t_p]
    const nll = tf.neg(tf.sum(tf.mul(weighted, tf.logSoftmax(logits)))); // Σ_p w[t_p] · −log p[t_p]
    // Σw depends on the targets only; when it is 0, so is the numerator, and dividing by 1 gives 0.
    const denominator = tf.add(total, tf.cast(tf.equal(total, 0), 'float32'));
    return tf.div(nll, denominator) as tf.Scalar;
  });
}
