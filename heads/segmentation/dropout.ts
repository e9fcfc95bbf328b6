/**
 * Dropout for the segmentation heads, seeded from the training step so that a run repeats exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ForwardContext } from '../../src/nn/module';

/** What the segmentation modules' `forward` receives: the training mode and, when training, the step's seed. */
export interface SegmentationForwardContext extends ForwardContext {
  /**
   * 32-bit seed of the training step for the dropout masks (the trainer's `StepContext.seed`). Without it, dropout
   * in training mode draws from tfjs's unseeded generator. Ignored in inference.
   */
  seed?: number;
}

/**
 * Inverted dropout, torch.nn.Dropout semantics: in training, zero each element with probability `rate` and scale
 * the rest by 1 / (1 - rate); in inference, the identity (a new handle on the same values).
 *
 * @param x [N, H, W, C] float32. Not disposed.
 * @param rate drop probability in [0, 1).
 * @param ctx training mode and step seed.
 * @param salt distinguishes the dropout layers of one network (each gets its own mask for a given step seed).
 * @returns [N, H, W, C] float32; caller owns it.
 * Reference: Srivastava et al. 2014; torch `nn.Dropout` (`torch/nn/modules/dropout.py`).
 */
export function dropout(x: tf.Tensor4D, rate: number, ctx: SegmentationForwardContext, salt: number): tf.Tensor4D {
  if (!ctx.training || rate === 0) return tf.clone(x);
  const seed = ctx.seed === undefined ? undefined : (ctx.seed ^ Math.imul(salt + 1, 0x9e3779b9)) >>> 0;
  return tf.tidy(() => {
    // The keep mask depends on no parameter: only the product is differentiated.
    const keep = tf.floor(tf.add(tf.randomUniform(x.shape, 0, 1, 'float32', seed), 1 - rate));
    return tf.mul(x, tf.mul(keep, 1 / (1 - rate))) as tf.Tensor4D;
  });
}
