/**
 * Classification losses.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Options of `softmaxCrossEntropy`. */
export interface CrossEntropyOptions {
  /**
   * Label smoothing ε in [0, 1): the target puts 1 - ε on the true class and spreads ε uniformly over all K
   * classes (the true one included), Szegedy et al. 2016 "Rethinking the Inception Architecture", and torch's
   * `F.cross_entropy(label_smoothing=ε)`. Default 0.
   */
  labelSmoothing?: number;
}

/**
 * Softmax cross-entropy averaged over the batch.
 *
 * `loss_i = -(1 - ε) log p_i[y_i] - (ε / K) Σ_k log p_i[k]`, then the mean over i (torch's default reduction).
 *
 * @param logits [N, K] float32, pre-softmax scores.
 * @param labels [N] int32, class indices in 0..K-1.
 * @returns scalar float32; caller owns it.
 * @throws Error when shapes disagree or ε is outside [0, 1).
 * Reference: torch.nn.functional.cross_entropy.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, opts: CrossEntropyOptions = {}): tf.Scalar {
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new Error(`labelSmoothing must be in [0, 1), got ${eps}`);
  if (logits.rank !== 2 || labels.rank !== 1 || logits.shape[0] !== labels.shape[0]) {
    throw new Error(`softmaxCrossEntropy takes logits [N, K] and labels [N], got [${logits.shape}] and [${labels.shape}]`);
  }
  const k = logits.shape[1];
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const target = tf.add(tf.mul(tf.cast(tf.oneHot(tf.cast(labels, 'int32'), k), 'float32'), 1 - eps), eps / k);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), 1))) as tf.Scalar;
  });
}
