/**
 * Fused batch normalization for training and inference on NHWC tensors, with an optional residual addition and
 * ReLU in the same op: `y = relu(BN(x) + residual)`, the tail of every torchvision ResNet block.
 *
 * Why fused: composed from tfjs ops, one BatchNorm + ReLU records about eight elementwise ops on the gradient tape,
 * each of which keeps a full-size copy of its inputs until the backward pass (on wasm every saved tensor is a
 * physical copy), and its gradient goes through broadcast reductions that wasm implements as a transpose followed by
 * a row sum. Here one `tf.customGrad` op keeps a single full-size tensor (`x - mean`) plus the output when a
 * residual is added, computes the analytic gradient directly, and does every per-channel reduction as an average
 * pool over W followed by a matrix product with a row of ones (XNNPACK kernels on wasm, no transposes).
 *
 * Reference: Ioffe & Szegedy 2015, "Batch Normalization: Accelerating Deep Network Training by Reducing Internal
 * Covariate Shift" (forward and gradient); PyTorch `aten/src/ATen/native/Normalization.cpp`
 * (`batch_norm_cpu_update_stats_template`, `batch_norm_backward_cpu_template`): biased batch variance for the
 * normalization, computed in two passes (mean, then the mean of squared deviations).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Options shared by {@link batchNormTrain} and {@link batchNormInference}. */
export interface BatchNormActOptions {
  /** Apply ReLU to the result (after the residual, when given). Default false. */
  relu?: boolean;
  /** A tensor of x's shape added after the normalization and before the ReLU. Differentiated. Not disposed. */
  residual?: tf.Tensor4D;
}

/** Output of {@link batchNormTrain}. All new tensors owned by the caller. */
export interface BatchNormTrainOutput {
  /** [N, H, W, C] float32, the normalized (and residual-added, ReLU'd if asked) activations. */
  y: tf.Tensor4D;
  /** [C] float32, batch mean over N, H, W. Not differentiable (for the running-statistics update). */
  mean: tf.Tensor1D;
  /** [C] float32, biased batch variance over N, H, W. Not differentiable. */
  variance: tf.Tensor1D;
}

function checkInputs(name: string, x: tf.Tensor4D, params: Record<string, tf.Tensor>, residual?: tf.Tensor4D): void {
  if (x.rank !== 4) throw new Error(`${name}: x must be NHWC [N, H, W, C], got shape [${x.shape}]`);
  const c = x.shape[3];
  for (const [k, t] of Object.entries(params)) {
    if (t.rank !== 1 || t.shape[0] !== c) throw new Error(`${name}: ${k} must be [${c}] for x [${x.shape}], got [${t.shape}]`);
  }
  if (residual !== undefined && !tf.util.arraysEqual(residual.shape, x.shape)) {
    throw new Error(`${name}: residual must have x's shape [${x.shape}], got [${residual.shape}]`);
  }
}

/**
 * Per-channel sums of an NHWC tensor: `s[c] = Σ_{n,h,w} t[n, h, w, c]`.
 *
 * Computed as a mean over W (average pooling, a short float32 sum per row) and a matrix product of a row of ones
 * with the [N*H, C] row means, times W: two short accumulations instead of one over N*H*W elements, which keeps
 * the float32 rounding error near that of pairwise summation.
 *
 * @param t [N, H, W, C] float32. Not disposed.
 * @returns [C] float32, new tensor owned by the caller.
 */
export function channelSums(t: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const [n, h, w, c] = t.shape;
    const rows = w === 1 ? t : tf.avgPool(t, [1, w], [1, w], 'valid'); // [N, H, 1, C], mean over W
    const r2 = tf.reshape(rows, [n * h, c]); // [N*H, C]
    const s = tf.matMul(tf.ones([1, n * h]), r2); // [1, C]
    return tf.reshape(w === 1 ? s : tf.mul(s, w), [c]) as tf.Tensor1D;
  });
}

/** `act(t * scale + shift)` per channel in one pass (a 1x1 depthwise convolution with bias; XNNPACK on wasm). */
function scaleShift(t: tf.Tensor4D, scale: tf.Tensor1D, shift: tf.Tensor1D, relu: boolean): tf.Tensor4D {
  const c = t.shape[3];
  return tf.fused.depthwiseConv2d({
    x: t,
    filter: tf.reshape(scale, [1, 1, c, 1]) as tf.Tensor4D,
    strides: 1,
    pad: 'valid',
    bias: shift,
    activation: relu ? 'relu' : 'linear',
  });
}

/**
 * Batch normalization in training mode, torch.nn.functional.batch_norm(training=True) followed by an optional
 * residual addition and ReLU:
 *
 * ```
 * mean = E[x], var = E[(x - mean)^2]                (over N, H, W; biased)
 * y = act(gamma * (x - mean) / sqrt(var + eps) + beta + residual)
 * ```
 *
 * Gradients (with dz = dy masked by y > 0 when `relu`, x̂ = (x - mean)·invstd, M = N·H·W):
 * `dx = gamma·invstd·(dz − mean(dz) − x̂·mean(dz·x̂))`, `dgamma = Σ dz·x̂`, `dbeta = Σ dz`, `dresidual = dz`.
 * The returned statistics are not differentiated; update running statistics from them outside the tape.
 *
 * @param x [N, H, W, C] float32, NHWC. Not disposed.
 * @param gamma [C] float32 (torch's `weight`). @param beta [C] float32 (torch's `bias`).
 * @param eps added to the variance (torch's default 1e-5).
 * @param opts `relu`, `residual` ([N, H, W, C] float32).
 * @returns `y`, `mean`, `variance` (biased); new tensors owned by the caller.
 * @throws Error when x is not rank 4, gamma/beta are not [C], or the residual's shape differs from x's.
 *
 * Reference: Ioffe & Szegedy 2015; PyTorch `aten/src/ATen/native/Normalization.cpp`.
 */
export function batchNormTrain(
  x: tf.Tensor4D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  eps: number,
  opts: BatchNormActOptions = {},
): BatchNormTrainOutput {
  checkInputs('batchNormTrain', x, { gamma, beta }, opts.residual);
  const relu = opts.relu ?? false;
  const residual = opts.residual;
  const [n, h, w, c] = x.shape;
  const m = n * h * w;
  let mean: tf.Tensor1D | undefined;
  let variance: tf.Tensor1D | undefined;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x4 = args[0] as tf.Tensor4D;
    const g = args[1] as tf.Tensor1D;
    const b = args[2] as tf.Tensor1D;
    const r = residual ? (args[3] as tf.Tensor4D) : undefined;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    // Kernels run inside customGrad's forward are not recorded on the tape.
    const mu = tf.div(channelSums(x4), m) as tf.Tensor1D; // [C]
    const xc = tf.sub(x4, mu) as tf.Tensor4D; // [N, H, W, C]
    const v = tf.div(channelSums(tf.square(xc)), m) as tf.Tensor1D; // [C], biased
    const invstd = tf.rsqrt(tf.add(v, eps)) as tf.Tensor1D;
    const a = tf.mul(g, invstd) as tf.Tensor1D;
    let y: tf.Tensor4D;
    if (r === undefined) {
      y = scaleShift(xc, a, b, relu);
    } else {
      y = tf.add(scaleShift(xc, a, b, false), r);
      if (relu) y = tf.relu(y);
    }
    mean = tf.keep(mu);
    variance = tf.keep(v);
    save(r !== undefined && relu ? [xc, invstd, g, b, y] : [xc, invstd, g, b]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [sxc, sinv, sg, sb] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        let dz = dy;
        if (relu) {
          // ReLU's gradient mask y > 0: from the saved output, or recomputed from x - mean (one pass) to avoid
          // keeping another full-size tensor.
          const pre = r !== undefined ? (saved[4] as tf.Tensor4D) : scaleShift(sxc, tf.mul(sg, sinv) as tf.Tensor1D, sb, false);
          dz = tf.mul(dy, tf.step(pre));
        }
        const sumDz = channelSums(dz); // [C]
        const sumDzXc = channelSums(tf.mul(dz, sxc)); // [C]
        const aa = tf.mul(sg, sinv) as tf.Tensor1D; // gamma * invstd
        // dx = a·dz − a·invstd²·mean(dz·xc)·xc − a·mean(dz), as dz·a + (xc·p + q).
        const p = tf.neg(tf.mul(aa, tf.mul(tf.square(sinv), tf.div(sumDzXc, m)))) as tf.Tensor1D;
        const q = tf.neg(tf.mul(aa, tf.div(sumDz, m))) as tf.Tensor1D;
        const dx = tf.add(tf.mul(dz, aa), scaleShift(sxc, p, q, false));
        const dgamma = tf.mul(sumDzXc, sinv);
        const grads = [dx, dgamma, sumDz];
        if (r !== undefined) grads.push(dz === dy ? tf.clone(dy) : dz);
        return grads;
      },
    };
  });
  const y = (residual ? f(x, gamma, beta, residual) : f(x, gamma, beta)) as tf.Tensor4D;
  return { y, mean: mean!, variance: variance! };
}

/**
 * Batch normalization with fixed statistics (inference, or a frozen layer in training) followed by an optional
 * residual addition and ReLU: `y = act(x * scale + shift + residual)` with `scale = gamma / sqrt(runningVar + eps)`
 * and `shift = beta - runningMean * scale`, torchvision's FrozenBatchNorm2d arithmetic.
 *
 * Gradients flow to `x` and `residual`, and to `gamma` and `beta` when `affineGrads` is true (a trainable
 * BatchNorm2d in eval mode, as torch does); with `affineGrads` false (FrozenBatchNorm2d, frozen stages) the
 * backward pass computes the input gradient only.
 *
 * @param x [N, H, W, C] float32, NHWC. Not disposed.
 * @param stats `gamma`, `beta`, `runningMean`, `runningVar`, each [C] float32; `eps`. Not disposed.
 * @param opts `relu`, `residual` ([N, H, W, C] float32); `affineGrads` (default false).
 * @returns [N, H, W, C] float32, new tensor owned by the caller.
 * @throws Error when x is not rank 4, a statistic is not [C], or the residual's shape differs from x's.
 *
 * Reference: torchvision `ops/misc.py` FrozenBatchNorm2d; torch.nn.functional.batch_norm(training=False).
 */
export function batchNormInference(
  x: tf.Tensor4D,
  stats: { gamma: tf.Tensor1D; beta: tf.Tensor1D; runningMean: tf.Tensor1D; runningVar: tf.Tensor1D; eps: number },
  opts: BatchNormActOptions & { affineGrads?: boolean } = {},
): tf.Tensor4D {
  const { gamma, beta, runningMean, runningVar, eps } = stats;
  checkInputs('batchNormInference', x, { gamma, beta, runningMean, runningVar }, opts.residual);
  const relu = opts.relu ?? false;
  const residual = opts.residual;
  return tf.tidy(() => {
    // With affineGrads, scale and shift come from gamma and beta through recorded ops, so that their gradients
    // reach the parameters; otherwise they are constants of the fused op.
    const scale = tf.mul(gamma, tf.rsqrt(tf.add(runningVar, eps))) as tf.Tensor1D;
    const shift = tf.sub(beta, tf.mul(runningMean, scale)) as tf.Tensor1D;
    return affineAct(x, scale, shift, relu, residual, opts.affineGrads ?? false);
  });
}

/**
 * `act(x * scale + shift + residual)` with a custom gradient: dz = dy·(y > 0) when relu; dx = dz·scale,
 * dresidual = dz, and, when `paramGrads`, dscale = Σ dz·x, dshift = Σ dz. Without `paramGrads`, scale and shift
 * are constants of the op (not inputs).
 */
function affineAct(
  x: tf.Tensor4D,
  scale: tf.Tensor1D,
  shift: tf.Tensor1D,
  relu: boolean,
  residual: tf.Tensor4D | undefined,
  paramGrads: boolean,
): tf.Tensor4D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const x4 = args[0] as tf.Tensor4D;
    const sc = (paramGrads ? args[1] : scale) as tf.Tensor1D;
    const sh = (paramGrads ? args[2] : shift) as tf.Tensor1D;
    const r = residual ? (args[paramGrads ? 3 : 1] as tf.Tensor4D) : undefined;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    let y: tf.Tensor4D;
    if (r === undefined) y = scaleShift(x4, sc, sh, relu);
    else {
      y = tf.add(scaleShift(x4, sc, sh, false), r);
      if (relu) y = tf.relu(y);
    }
    // Saved: x only when the scale gradient needs it; y for the ReLU mask.
    const toSave: tf.Tensor[] = [sc];
    if (paramGrads) toSave.push(x4);
    if (relu) toSave.push(y);
    save(toSave);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const ssc = saved[0] as tf.Tensor1D;
        const sx = paramGrads ? (saved[1] as tf.Tensor4D) : undefined;
        const dz = relu ? tf.mul(dy, tf.step(saved[saved.length - 1])) : dy;
        const dx = tf.mul(dz, ssc) as tf.Tensor4D;
        const grads: tf.Tensor[] = [dx];
        if (paramGrads) grads.push(channelSums(tf.mul(dz, sx!) as tf.Tensor4D), channelSums(dz as tf.Tensor4D));
        if (r !== undefined) grads.push(dz === dy ? tf.clone(dy) : dz);
        return grads;
      },
    };
  });
  const inputs: tf.Tensor[] = paramGrads ? [x, scale, shift] : [x];
  if (residual) inputs.push(residual);
  return f(...inputs) as tf.Tensor4D;
}
