/**
 * Element-wise losses shared by dense heads: sigmoid focal loss, L1, smooth L1, GIoU. Pure functions: tensors in,
 * tensor out, differentiable on every backend (no comparison ops on the differentiated path: masks and weights
 * are inputs, computed by the caller outside the gradient tape).
 *
 * Reference: Lin et al. 2017, "Focal Loss for Dense Object Detection", torchvision `ops/focal_loss.py`;
 * torch.nn.functional `l1_loss`, `smooth_l1_loss`; torchvision `ops/giou_loss.py`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { generalizedBoxIouTensor } from './iou';

/** How element-wise losses are reduced: `none` keeps the shape, `sum` adds every element, `mean` averages. */
export type Reduction = 'none' | 'sum' | 'mean';

function reduce(loss: tf.Tensor, reduction: Reduction, weights?: tf.Tensor): tf.Tensor {
  const w = weights ? tf.mul(loss, weights) : loss;
  switch (reduction) {
    case 'none':
      return w;
    case 'sum':
      return tf.sum(w);
    case 'mean':
      return tf.mean(w);
    default: {
      const never: never = reduction;
      throw new Error(`unknown reduction '${String(never)}': expected 'none', 'sum' or 'mean'`);
    }
  }
}

function sameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.shape.join() !== b.shape.join()) throw new Error(`${what}: inputs must have one shape, got [${a.shape}] and [${b.shape}]`);
}

/**
 * log(1 + u) for u >= 0, accurate in float32 where `tf.log1p` is not (the wasm kernel computes log(1 + u), which
 * loses every digit of u below 6e-8 and ~5% of u = 1e-6): with w = fl(1 + u), the rounding error of the sum is
 * d = (w - 1) - u (exact in float32), and log(1 + u) = log(w) - d / w to first order (Kahan's correction).
 * Differentiable: the derivative of d is 0, leaving 1/w.
 */
function log1pAccurate(u: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const w = tf.add(u, 1);
    return tf.sub(tf.log(w), tf.div(tf.sub(tf.sub(w, 1), u), w));
  });
}

/** Options of `sigmoidFocalLoss`. */
export interface FocalLossOptions {
  /** Weight of positives (1 - alpha for negatives); a negative value disables the weighting. Default 0.25. */
  alpha?: number;
  /** Focusing exponent of (1 - p_t). Default 2. */
  gamma?: number;
  /** Default `none`. */
  reduction?: Reduction;
  /**
   * Optional per-element weights multiplied in before the reduction (broadcastable to `logits`): 0 removes an
   * element (ignored anchors), 1 / numForeground normalizes per image.
   */
  weights?: tf.Tensor;
}

/**
 * Sigmoid focal loss, `FL = alpha_t * (1 - p_t)^gamma * BCE(logits, targets)`, with `p = sigmoid(logits)`,
 * `p_t = p t + (1 - p)(1 - t)`, `alpha_t = alpha t + (1 - alpha)(1 - t)`. BCE is computed in the stable form
 * `max(x, 0) - x t + log(1 + exp(-|x|))` with a float32-accurate log(1 + .).
 *
 * @param logits [...] float32 logits.
 * @param targets [...] float32 in [0, 1] (usually one-hot), same shape.
 * @returns the loss, [...] for `none`, a scalar otherwise; caller owns it.
 * @throws Error when shapes differ.
 * Reference: torchvision `ops/focal_loss.py` `sigmoid_focal_loss`.
 */
export function sigmoidFocalLoss(logits: tf.Tensor, targets: tf.Tensor, opts: FocalLossOptions = {}): tf.Tensor {
  sameShape(logits, targets, 'sigmoidFocalLoss');
  const alpha = opts.alpha ?? 0.25;
  const gamma = opts.gamma ?? 2;
  return tf.tidy(() => {
    const p = tf.sigmoid(logits);
    const ce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), log1pAccurate(tf.exp(tf.neg(tf.abs(logits)))));
    const oneMinusT = tf.sub(1, targets);
    const pT = tf.add(tf.mul(p, targets), tf.mul(tf.sub(1, p), oneMinusT));
    const oneMinusPt = tf.sub(1, pT);
    const modulation = gamma === 2 ? tf.square(oneMinusPt) : gamma === 1 ? oneMinusPt : tf.pow(oneMinusPt, tf.scalar(gamma));
    let loss = tf.mul(ce, modulation);
    if (alpha >= 0) loss = tf.mul(tf.add(tf.mul(targets, alpha), tf.mul(oneMinusT, 1 - alpha)), loss);
    return reduce(loss, opts.reduction ?? 'none', opts.weights);
  });
}

/** Options of the box-regression losses. */
export interface RegressionLossOptions {
  /** Default `none`. */
  reduction?: Reduction;
  /** Optional per-element weights (broadcastable to the element-wise loss), multiplied in before the reduction. */
  weights?: tf.Tensor;
}

/**
 * L1 loss `|pred - target|` (torch.nn.functional.l1_loss).
 * @param pred [...] float32. @param target [...] float32, same shape.
 * @returns [...] for `none`, a scalar otherwise; caller owns it.
 * @throws Error when shapes differ.
 */
export function l1Loss(pred: tf.Tensor, target: tf.Tensor, opts: RegressionLossOptions = {}): tf.Tensor {
  sameShape(pred, target, 'l1Loss');
  return tf.tidy(() => reduce(tf.abs(tf.sub(pred, target)), opts.reduction ?? 'none', opts.weights));
}

/**
 * Smooth L1 loss (torch.nn.functional.smooth_l1_loss): `0.5 d^2 / beta` where `|d| < beta`, `|d| - 0.5 beta`
 * elsewhere, written as `q (|d| - 0.5 q) / beta` with `q = min(|d|, beta)` so no comparison is differentiated.
 * `beta = 0` is the L1 loss.
 * @param pred [...] float32. @param target [...] float32, same shape.
 * @returns [...] for `none`, a scalar otherwise; caller owns it.
 * @throws Error when shapes differ or beta < 0.
 */
export function smoothL1Loss(pred: tf.Tensor, target: tf.Tensor, opts: RegressionLossOptions & { beta?: number } = {}): tf.Tensor {
  sameShape(pred, target, 'smoothL1Loss');
  const beta = opts.beta ?? 1;
  if (!(beta >= 0)) throw new Error(`smoothL1Loss: beta must be >= 0, got ${beta}`);
  if (beta === 0) return l1Loss(pred, target, opts);
  return tf.tidy(() => {
    const d = tf.abs(tf.sub(pred, target));
    const q = tf.minimum(d, beta);
    return reduce(tf.div(tf.mul(q, tf.sub(d, tf.mul(q, 0.5))), beta), opts.reduction ?? 'none', opts.weights);
  });
}

/**
 * Generalized IoU loss `1 - GIoU(boxes1, boxes2)` of paired xyxy boxes (torchvision `generalized_box_iou_loss`).
 * @param boxes1 [..., 4] float32 xyxy (predictions). @param boxes2 [..., 4] float32 xyxy (targets), same shape.
 * @returns [...] for `none`, a scalar otherwise; caller owns it.
 * @throws Error when shapes differ or the last dimension is not 4.
 */
export function generalizedBoxIouLoss(
  boxes1: tf.Tensor,
  boxes2: tf.Tensor,
  opts: RegressionLossOptions & { eps?: number } = {},
): tf.Tensor {
  return tf.tidy(() => reduce(tf.sub(1, generalizedBoxIouTensor(boxes1, boxes2, opts.eps ?? 1e-7)), opts.reduction ?? 'none', opts.weights));
}

/**
 * Binary cross-entropy on logits (torch.nn.functional.binary_cross_entropy_with_logits), in the stable form
 * `max(x, 0) - x t + log(1 + exp(-|x|))` with a float32-accurate log(1 + .).
 * @param logits [...] float32 logits. @param targets [...] float32 in [0, 1], same shape (constants).
 * @returns [...] for `none`, a scalar otherwise (`mean` averages over every element, torch's default); caller owns it.
 * @throws Error when shapes differ.
 */
export function binaryCrossEntropyWithLogits(logits: tf.Tensor, targets: tf.Tensor, opts: { reduction?: Reduction; weights?: tf.Tensor } = {}): tf.Tensor {
  sameShape(logits, targets, 'binaryCrossEntropyWithLogits');
  return tf.tidy(() => {
    const ce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), log1pAccurate(tf.exp(tf.neg(tf.abs(logits)))));
    return reduce(ce, opts.reduction ?? 'none', opts.weights);
  });
}

/**
 * Softmax cross-entropy of rows of logits against integer labels (torch.nn.functional.cross_entropy with
 * reduction `mean` and no ignored rows): `mean_r(-log softmax(logits_r)[label_r])`.
 * @param logits [R, K] float32 logits, R >= 1.
 * @param labels [R] integer classes 0..K-1 (a constant: the one-hot matrix is built on the JS side).
 * @returns scalar float32; caller owns it.
 * @throws Error when logits are not [R, K] with R = labels.length or a label is outside 0..K-1.
 */
export function softmaxCrossEntropy(logits: tf.Tensor2D, labels: ArrayLike<number>): tf.Scalar {
  const [r, k] = logits.shape;
  if (logits.rank !== 2 || r !== labels.length || r === 0) {
    throw new Error(`softmaxCrossEntropy: expected logits [R, K] with R = labels.length = ${labels.length} >= 1, got [${logits.shape}]`);
  }
  const oneHot = new Float32Array(r * k);
  for (let i = 0; i < r; i++) {
    const l = labels[i];
    if (!(Number.isInteger(l) && l >= 0 && l < k)) throw new Error(`softmaxCrossEntropy: label ${l} of row ${i} is outside 0..${k - 1}`);
    oneHot[i * k + l] = 1;
  }
  return tf.tidy(() => tf.div(tf.neg(tf.sum(tf.mul(tf.tensor2d(oneHot, [r, k]), tf.logSoftmax(logits)))), r) as tf.Scalar);
}
