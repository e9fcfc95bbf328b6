/**
 * Gradient clipping on named gradient records, with torch.nn.utils semantics.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Gradients keyed by parameter name (the dotted state name of the parameter each one belongs to). */
export type NamedGrads = Record<string, tf.Tensor>;

/** What `clipGradNorm` returns. */
export interface ClippedGrads {
  /** The scaled gradients, same keys and shapes as the input; new tensors, the caller owns them. */
  grads: NamedGrads;
  /** The total norm of the gradients before clipping, scalar float32; the caller owns it. */
  totalNorm: tf.Scalar;
}

/**
 * Scale all gradients together so that their global norm is at most `maxNorm`.
 *
 * `total = ‖(‖g_1‖_p, ..., ‖g_n‖_p)‖_p` (for `p = 'inf'`: `max_i max |g_i|`), then every gradient is multiplied
 * by `min(1, maxNorm / (total + 1e-6))`. A non-finite total norm propagates into the gradients, as torch with
 * `error_if_nonfinite=False`.
 *
 * @param grads gradients keyed by parameter name, any shapes, float32. Not disposed; still owned by the caller.
 * @param maxNorm the largest allowed global norm, > 0.
 * @param normType the p of the p-norm, a positive number or `'inf'`. Default 2.
 * @returns new clipped gradients and the pre-clipping total norm; the caller owns both.
 * @throws Error when `maxNorm` is not a positive finite number or `normType` is not positive.
 * Reference: torch.nn.utils.clip_grad_norm_ (torch/nn/utils/clip_grad.py).
 */
export function clipGradNorm(grads: NamedGrads, maxNorm: number, normType: number | 'inf' = 2): ClippedGrads {
  if (!(maxNorm > 0 && Number.isFinite(maxNorm))) throw new Error(`clipGradNorm: maxNorm must be > 0, got ${maxNorm}`);
  if (normType !== 'inf' && !(normType > 0)) throw new Error(`clipGradNorm: normType must be > 0 or 'inf', got ${normType}`);
  const names = Object.keys(grads);
  if (names.length === 0) return { grads: {}, totalNorm: tf.scalar(0) };
  return tf.tidy(() => {
    const ord = normType === 'inf' ? Infinity : normType;
    const perTensor = names.map((n) => tf.norm(grads[n], ord)); // each a scalar
    const totalNorm = tf.norm(tf.stack(perTensor), ord) as tf.Scalar;
    const coef = tf.minimum(tf.div(maxNorm, tf.add(totalNorm, 1e-6)), 1);
    const out: NamedGrads = {};
    for (const n of names) out[n] = tf.mul(grads[n], coef);
    return { grads: out, totalNorm };
  });
}

/**
 * Clamp every gradient element to `[-clipValue, clipValue]`.
 *
 * @param grads gradients keyed by parameter name, float32. Not disposed; still owned by the caller.
 * @param clipValue the bound, > 0.
 * @returns new clamped gradients, same keys and shapes; the caller owns them.
 * @throws Error when `clipValue` is not a positive finite number.
 * Reference: torch.nn.utils.clip_grad_value_ (torch/nn/utils/clip_grad.py).
 */
export function clipGradValue(grads: NamedGrads, clipValue: number): NamedGrads {
  if (!(clipValue > 0 && Number.isFinite(clipValue))) {
    throw new Error(`clipGradValue: clipValue must be > 0, got ${clipValue}`);
  }
  return tf.tidy(() => {
    const out: NamedGrads = {};
    for (const [n, g] of Object.entries(grads)) out[n] = tf.clipByValue(g, -clipValue, clipValue);
    return out;
  });
}
