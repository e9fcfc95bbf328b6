/**
 * Layers with torch's semantics and parameter names: `Conv2d`, `BatchNorm2d`, `FrozenBatchNorm2d`, `Linear`,
 * `Sequential`. Activations are NHWC float32 throughout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNormActOptions, batchNormInference, batchNormTrain } from '../ops/batch_norm';
import { conv2d } from '../ops/conv';
import { SeedSequence } from '../common/seed';
import { ForwardContext, Module } from './module';

/** Options of `Conv2d`; the meaning of each field is torch.nn.Conv2d's. */
export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  /** Explicit symmetric zero padding in pixels on each side (torch's `padding`). Default 0. */
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
  /** Weight initialization. `kaimingNormalFanOut` is torchvision ResNet's; `torchDefault` is torch.nn.Conv2d's own. */
  init?: 'kaimingNormalFanOut' | 'torchDefault' | 'zeros' | { normalStd: number };
  /** Seeds for the initialization. */
  seeds: SeedSequence;
}

/**
 * 2-D convolution, torch.nn.Conv2d semantics on NHWC input.
 *
 * Parameters: `weight` [kh, kw, Cin/groups, Cout] (HWIO; torch's is OIHW), `bias` [Cout] when `bias` is true.
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly options: Required<Omit<Conv2dOptions, 'seeds' | 'init'>>;

  constructor(opts: Conv2dOptions) {
    super();
    const o = {
      inChannels: opts.inChannels,
      outChannels: opts.outChannels,
      kernelSize: opts.kernelSize,
      stride: opts.stride ?? 1,
      padding: opts.padding ?? 0,
      dilation: opts.dilation ?? 1,
      groups: opts.groups ?? 1,
      bias: opts.bias ?? true,
    };
    if (o.inChannels % o.groups !== 0 || o.outChannels % o.groups !== 0) {
      throw new Error(`Conv2d: channels ${o.inChannels}->${o.outChannels} are not divisible by groups=${o.groups}`);
    }
    this.options = o;
    const k = o.kernelSize;
    const shape: [number, number, number, number] = [k, k, o.inChannels / o.groups, o.outChannels];
    const fanIn = k * k * (o.inChannels / o.groups);
    const fanOut = k * k * (o.outChannels / o.groups);
    const init = opts.init ?? 'torchDefault';
    const seed = opts.seeds.next();
    let w: tf.Tensor;
    if (init === 'zeros') w = tf.zeros(shape);
    else if (init === 'kaimingNormalFanOut') w = tf.randomNormal(shape, 0, Math.sqrt(2 / fanOut), 'float32', seed);
    else if (init === 'torchDefault') {
      // kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      const b = 1 / Math.sqrt(fanIn);
      w = tf.randomUniform(shape, -b, b, 'float32', seed);
    } else w = tf.randomNormal(shape, 0, init.normalStd, 'float32', seed);
    this.weight = this.registerParameter('weight', w, 'conv2d');
    if (o.bias) {
      const b = 1 / Math.sqrt(fanIn);
      const biasInit =
        init === 'torchDefault' ? tf.randomUniform([o.outChannels], -b, b, 'float32', opts.seeds.next()) : tf.zeros([o.outChannels]);
      this.bias = this.registerParameter('bias', biasInit);
    }
  }

  /**
   * @param x [N, H, W, Cin] float32.
   * @returns [N, floor((H + 2p - d(k-1) - 1)/s) + 1, ..., Cout] float32; caller owns it.
   */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const o = this.options;
    if (x.rank !== 4 || x.shape[3] !== o.inChannels) {
      throw new Error(`Conv2d expects NHWC input with ${o.inChannels} channels, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const y = conv2d(x, this.weight as tf.Tensor4D, {
        stride: o.stride,
        padding: o.padding,
        dilation: o.dilation,
        groups: o.groups,
      });
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}

/** Options of `BatchNorm2d`. */
export interface BatchNormOptions {
  numFeatures: number;
  /** Added to the variance, torch's default 1e-5 (tfjs-layers uses 1e-3). */
  eps?: number;
  /**
   * torch's momentum: `running = (1 - momentum) * running + momentum * batch`, default 0.1
   * (tfjs-layers' 0.99 is the complementary convention).
   */
  momentum?: number;
  /** Initial `weight` (gamma): 1, or 0 for torchvision's `zero_init_residual` last BN of a block. */
  weightInit?: 0 | 1;
}

/**
 * Batch normalization over N, H, W of an NHWC tensor, torch.nn.BatchNorm2d semantics.
 *
 * Training normalizes with the batch's biased variance and updates `running_var` with the unbiased one, as torch.
 * Inference (or a frozen module) uses the running statistics and never changes them.
 * State: parameters `weight`, `bias`; buffers `running_mean`, `running_var` (all [C]).
 */
export class BatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly eps: number;
  readonly momentum: number;

  constructor(opts: BatchNormOptions) {
    super();
    const c = opts.numFeatures;
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.weight = this.registerParameter('weight', opts.weightInit === 0 ? tf.zeros([c]) : tf.ones([c]));
    this.bias = this.registerParameter('bias', tf.zeros([c]));
    this.runningMean = this.registerBuffer('running_mean', tf.zeros([c]));
    this.runningVar = this.registerBuffer('running_var', tf.ones([c]));
  }

  /**
   * Normalize, then optionally add a residual and apply ReLU in the same fused op (`relu(bn(x) + residual)`,
   * the ResNet block tail), which keeps one full-size tensor for the backward pass instead of one per op.
   *
   * @param x [N, H, W, C] float32. Not disposed.
   * @param ctx training mode: batch statistics and a running-statistics update (skipped when frozen).
   * @param act `relu`; `residual` [N, H, W, C] float32 added before the ReLU (not disposed).
   * @returns [N, H, W, C] float32; caller owns it.
   * @throws Error when x is not [N, H, W, numFeatures] or the residual's shape differs.
   * Reference: torch.nn.BatchNorm2d (`torch/nn/modules/batchnorm.py`); {@link batchNormTrain}.
   */
  forward(x: tf.Tensor4D, ctx: ForwardContext, act: BatchNormActOptions = {}): tf.Tensor4D {
    checkNormInput('BatchNorm2d', x, this.weight.shape[0]);
    const stats = {
      gamma: this.weight as tf.Tensor1D,
      beta: this.bias as tf.Tensor1D,
      runningMean: this.runningMean as tf.Tensor1D,
      runningVar: this.runningVar as tf.Tensor1D,
      eps: this.eps,
    };
    if (!ctx.training || this.frozen) {
      // A frozen layer's parameters are not trained: no gradient for them.
      return batchNormInference(x, stats, { ...act, affineGrads: !this.frozen });
    }
    const { y, mean, variance } = batchNormTrain(x, stats.gamma, stats.beta, this.eps, act);
    tf.tidy(() => {
      const n = x.shape[0] * x.shape[1] * x.shape[2];
      const m = this.momentum;
      // Variable.assign is not recorded on the gradient tape, so the statistics update is not differentiated.
      const unbiased = tf.mul(variance, n > 1 ? n / (n - 1) : 1);
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)));
      this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(unbiased, m)));
    });
    tf.dispose([mean, variance]);
    return y;
  }
}

function checkNormInput(name: string, x: tf.Tensor4D, c: number): void {
  if (x.rank !== 4 || x.shape[3] !== c) {
    throw new Error(`${name} expects NHWC input [N, H, W, ${c}], got shape [${x.shape}]`);
  }
}

/**
 * BatchNorm2d whose statistics and affine parameters are fixed buffers, torchvision.ops.FrozenBatchNorm2d
 * (eps 1e-5): `y = x * weight / sqrt(running_var + eps) + bias - running_mean * scale`. Nothing in it is ever
 * trained or updated. State: buffers `weight`, `bias`, `running_mean`, `running_var` (all [C]).
 */
export class FrozenBatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly eps: number;

  constructor(opts: BatchNormOptions) {
    super();
    const c = opts.numFeatures;
    this.eps = opts.eps ?? 1e-5;
    this.weight = this.registerBuffer('weight', opts.weightInit === 0 ? tf.zeros([c]) : tf.ones([c]));
    this.bias = this.registerBuffer('bias', tf.zeros([c]));
    this.runningMean = this.registerBuffer('running_mean', tf.zeros([c]));
    this.runningVar = this.registerBuffer('running_var', tf.ones([c]));
  }

  /**
   * @param x [N, H, W, C] float32. Not disposed.
   * @param _ctx ignored: a frozen layer behaves the same in training and inference (gradients still reach x).
   * @param act `relu`; `residual` [N, H, W, C] float32 added before the ReLU (not disposed).
   * @returns [N, H, W, C] float32; caller owns it.
   * @throws Error when x is not [N, H, W, numFeatures] or the residual's shape differs.
   */
  forward(x: tf.Tensor4D, _ctx?: ForwardContext, act: BatchNormActOptions = {}): tf.Tensor4D {
    checkNormInput('FrozenBatchNorm2d', x, this.weight.shape[0]);
    return batchNormInference(
      x,
      {
        gamma: this.weight as tf.Tensor1D,
        beta: this.bias as tf.Tensor1D,
        runningMean: this.runningMean as tf.Tensor1D,
        runningVar: this.runningVar as tf.Tensor1D,
        eps: this.eps,
      },
      act,
    );
  }
}

/** Which normalization a network uses: trainable BatchNorm2d or torchvision's FrozenBatchNorm2d. */
export type NormLayer = 'batch' | 'frozen';

/** A normalization layer of either kind; both take `forward(x, ctx)`. */
export type Norm2d = BatchNorm2d | FrozenBatchNorm2d;

/** Build the normalization layer named by `kind`. */
export function buildNorm(kind: NormLayer, opts: BatchNormOptions): Norm2d {
  switch (kind) {
    case 'batch':
      return new BatchNorm2d(opts);
    case 'frozen':
      return new FrozenBatchNorm2d(opts);
    default: {
      const never: never = kind;
      throw new Error(`unknown normLayer '${String(never)}': expected 'batch' or 'frozen'`);
    }
  }
}

/** Options of `Linear`. */
export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  bias?: boolean;
  seeds: SeedSequence;
}

/**
 * Fully connected layer, torch.nn.Linear semantics and default initialization (U(-1/sqrt(in), 1/sqrt(in))).
 * Parameters: `weight` [in, out] (torch's is [out, in]), `bias` [out].
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(opts: LinearOptions) {
    super();
    this.inFeatures = opts.inFeatures;
    this.outFeatures = opts.outFeatures;
    const b = 1 / Math.sqrt(opts.inFeatures);
    this.weight = this.registerParameter(
      'weight',
      tf.randomUniform([opts.inFeatures, opts.outFeatures], -b, b, 'float32', opts.seeds.next()),
      'linear',
    );
    if (opts.bias ?? true) {
      this.bias = this.registerParameter('bias', tf.randomUniform([opts.outFeatures], -b, b, 'float32', opts.seeds.next()));
    }
  }

  /** @param x [N, in] float32. @returns [N, out] float32; caller owns it. */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw new Error(`Linear expects [N, ${this.inFeatures}] input, got shape [${x.shape}]`);
    }
    return tf.tidy((): tf.Tensor2D => {
      const y = tf.matMul(x, this.weight) as tf.Tensor2D;
      return this.bias ? (tf.add(y, this.bias) as tf.Tensor2D) : y;
    });
  }
}

/** A module whose children are named "0", "1", ... as torch.nn.Sequential's; it has no forward of its own. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(items: M[]) {
    super();
    items.forEach((m, i) => this.items.push(this.registerModule(String(i), m)));
  }
}

/** Options of `GroupNorm`; torch.nn.GroupNorm's arguments. */
export interface GroupNormOptions {
  /** Groups G; `numChannels` must be divisible by it. detectron2's "GN": 32. */
  numGroups: number;
  /** Channels C. */
  numChannels: number;
  /** Added to the variance. Default 1e-5 (torch's). */
  eps?: number;
}

/**
 * Group normalization (Wu and He 2018), torch.nn.GroupNorm semantics on NHWC input: the channels are split into G
 * consecutive groups of C / G; each (image, group) is normalized with the mean and biased variance over H, W and its
 * channels, then scaled and shifted per channel. The same in training and inference (no running statistics).
 * State (torch names): parameters `weight` (1) and `bias` (0), both [C].
 *
 * Reference: Wu and He 2018, "Group Normalization"; torch `nn.GroupNorm` (`torch/nn/modules/normalization.py`).
 */
export class GroupNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly numGroups: number;
  readonly numChannels: number;
  readonly eps: number;

  /** @throws Error when `numChannels` is not a positive multiple of `numGroups`. */
  constructor(opts: GroupNormOptions) {
    super();
    const { numGroups: g, numChannels: c } = opts;
    if (!(Number.isInteger(g) && g > 0 && Number.isInteger(c) && c > 0 && c % g === 0)) {
      throw new Error(`GroupNorm: numChannels (${c}) must be a positive multiple of numGroups (${g})`);
    }
    this.numGroups = g;
    this.numChannels = c;
    this.eps = opts.eps ?? 1e-5;
    this.weight = this.registerParameter('weight', tf.ones([c]));
    this.bias = this.registerParameter('bias', tf.zeros([c]));
  }

  /**
   * @param x [N, H, W, C] float32. Not disposed.
   * @param act `relu` applies ReLU after the affine transform.
   * @returns [N, H, W, C] float32; caller owns it.
   * @throws Error when x is not [N, H, W, numChannels].
   */
  forward(x: tf.Tensor4D, act: { relu?: boolean } = {}): tf.Tensor4D {
    checkNormInput('GroupNorm', x, this.numChannels);
    const [n, h, w, c] = x.shape;
    const g = this.numGroups;
    return tf.tidy(() => {
      const xg = tf.reshape(x, [n, h * w, g, c / g]); // [N, HW, G, C/G]
      const mean = tf.mean(xg, [1, 3], true); // [N, 1, G, 1]
      const centred = tf.sub(xg, mean);
      const variance = tf.mean(tf.square(centred), [1, 3], true);
      const normalized = tf.reshape(tf.mul(centred, tf.rsqrt(tf.add(variance, this.eps))), [n, h, w, c]);
      const y = tf.add(tf.mul(normalized, this.weight), this.bias) as tf.Tensor4D;
      return act.relu ? tf.relu(y) : y;
    });
  }
}
