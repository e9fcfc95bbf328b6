/**
 * ResNet backbones with torchvision's architecture and parameter names.
 *
 * Reference: He et al. 2016, "Deep Residual Learning for Image Recognition"; torchvision `models/resnet.py`
 * ("ResNet v1.5": the stride of a Bottleneck is on its 3x3 convolution); Zagoruyko & Komodakis 2016 (wide
 * ResNets); Xie et al. 2017 (ResNeXt, grouped 3x3 convolutions).
 *
 * Layout is NHWC; every convolution pads explicitly and symmetrically as torchvision does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeedSequence } from '../common/seed';
import { Conv2d, Norm2d, NormLayer, buildNorm } from '../nn/layers';
import { ForwardContext, Module } from '../nn/module';
import { BACKBONE_LEVELS, type Backbone, BackboneLevel, FeatureMap, FeatureSpec, type FeatureSpecs, specOf } from './features';
import { BACKBONE_NAMES, type BackboneName } from './names';

/** A residual block of either kind. */
interface ResidualBlock extends Module {
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
}

/** Block construction arguments, torchvision's `BasicBlock` / `Bottleneck` signature. */
interface BlockArgs {
  inplanes: number;
  planes: number;
  stride: number;
  downsample?: Downsample;
  groups: number;
  baseWidth: number;
  dilation: number;
  normLayer: NormLayer;
  zeroInitResidual: boolean;
  seeds: SeedSequence;
}

/** The projection shortcut: 1x1 convolution (stride s) and norm, named `downsample.0` and `downsample.1`. */
class Downsample extends Module {
  readonly conv: Conv2d;
  readonly norm: Norm2d;

  constructor(inplanes: number, outplanes: number, stride: number, normLayer: NormLayer, seeds: SeedSequence) {
    super();
    this.conv = this.registerModule(
      '0',
      new Conv2d({ inChannels: inplanes, outChannels: outplanes, kernelSize: 1, stride, bias: false, init: 'kaimingNormalFanOut', seeds }),
    );
    this.norm = this.registerModule('1', buildNorm(normLayer, { numFeatures: outplanes }));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => this.norm.forward(this.conv.forward(x), ctx));
  }
}

function conv3x3(inp: number, out: number, stride: number, groups: number, dilation: number, seeds: SeedSequence): Conv2d {
  return new Conv2d({
    inChannels: inp,
    outChannels: out,
    kernelSize: 3,
    stride,
    padding: dilation,
    dilation,
    groups,
    bias: false,
    init: 'kaimingNormalFanOut',
    seeds,
  });
}

function conv1x1(inp: number, out: number, seeds: SeedSequence): Conv2d {
  return new Conv2d({ inChannels: inp, outChannels: out, kernelSize: 1, bias: false, init: 'kaimingNormalFanOut', seeds });
}

/** torchvision `BasicBlock` (expansion 1): two 3x3 convolutions. */
export class BasicBlock extends Module implements ResidualBlock {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: Norm2d;
  readonly conv2: Conv2d;
  readonly bn2: Norm2d;
  readonly downsample?: Downsample;

  constructor(a: BlockArgs) {
    super();
    if (a.groups !== 1 || a.baseWidth !== 64) throw new Error('BasicBlock only supports groups=1 and baseWidth=64');
    if (a.dilation > 1) throw new Error('dilation > 1 is not supported in BasicBlock (as in torchvision)');
    this.conv1 = this.registerModule('conv1', conv3x3(a.inplanes, a.planes, a.stride, 1, 1, a.seeds));
    this.bn1 = this.registerModule('bn1', buildNorm(a.normLayer, { numFeatures: a.planes }));
    this.conv2 = this.registerModule('conv2', conv3x3(a.planes, a.planes, 1, 1, 1, a.seeds));
    this.bn2 = this.registerModule(
      'bn2',
      buildNorm(a.normLayer, { numFeatures: a.planes, weightInit: a.zeroInitResidual ? 0 : 1 }),
    );
    if (a.downsample) this.downsample = this.registerModule('downsample', a.downsample);
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      // BatchNorm fuses the ReLU and the residual add: one saved tensor per layer on the gradient tape.
      const out = this.bn1.forward(this.conv1.forward(x), ctx, { relu: true });
      const identity = this.downsample ? this.downsample.forward(x, ctx) : x;
      return this.bn2.forward(this.conv2.forward(out), ctx, { relu: true, residual: identity });
    });
  }
}

/** torchvision `Bottleneck` (expansion 4): 1x1, 3x3 (stride, groups, dilation), 1x1. */
export class Bottleneck extends Module implements ResidualBlock {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: Norm2d;
  readonly conv2: Conv2d;
  readonly bn2: Norm2d;
  readonly conv3: Conv2d;
  readonly bn3: Norm2d;
  readonly downsample?: Downsample;

  constructor(a: BlockArgs) {
    super();
    const width = Math.floor(a.planes * (a.baseWidth / 64)) * a.groups;
    const outC = a.planes * Bottleneck.expansion;
    this.conv1 = this.registerModule('conv1', conv1x1(a.inplanes, width, a.seeds));
    this.bn1 = this.registerModule('bn1', buildNorm(a.normLayer, { numFeatures: width }));
    this.conv2 = this.registerModule('conv2', conv3x3(width, width, a.stride, a.groups, a.dilation, a.seeds));
    this.bn2 = this.registerModule('bn2', buildNorm(a.normLayer, { numFeatures: width }));
    this.conv3 = this.registerModule('conv3', conv1x1(width, outC, a.seeds));
    this.bn3 = this.registerModule('bn3', buildNorm(a.normLayer, { numFeatures: outC, weightInit: a.zeroInitResidual ? 0 : 1 }));
    if (a.downsample) this.downsample = this.registerModule('downsample', a.downsample);
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      // BatchNorm fuses the ReLU and the residual add: one saved tensor per layer on the gradient tape.
      let out = this.bn1.forward(this.conv1.forward(x), ctx, { relu: true });
      out = this.bn2.forward(this.conv2.forward(out), ctx, { relu: true });
      const identity = this.downsample ? this.downsample.forward(x, ctx) : x;
      return this.bn3.forward(this.conv3.forward(out), ctx, { relu: true, residual: identity });
    });
  }
}

/** A stage (`layer1`..`layer4`): blocks named `0`, `1`, ... */
class ResStage extends Module {
  readonly blocks: ResidualBlock[] = [];

  constructor(blocks: ResidualBlock[]) {
    super();
    blocks.forEach((b, i) => this.blocks.push(this.registerModule(String(i), b)));
  }

  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      let out = x;
      for (const b of this.blocks) out = b.forward(out, ctx);
      return out;
    });
  }
}

/** Options of `ResNet`; builders such as `resnet50()` fill `block`, `layers`, `groups` and `widthPerGroup`. */
export interface ResNetOptions {
  /** Residual block type. */
  block: 'basic' | 'bottleneck';
  /** Blocks per stage, e.g. [3, 4, 6, 3] for ResNet-50. */
  layers: [number, number, number, number];
  /** Groups of the 3x3 convolutions (ResNeXt: 32). Default 1. */
  groups?: number;
  /** Channels per group of the 3x3 convolutions at `planes=64` (wide ResNet: 128; ResNeXt-50 32x4d: 4). Default 64. */
  widthPerGroup?: number;
  /**
   * For `layer2..layer4`, replace the stride-2 downsampling by dilation (torchvision's
   * `replace_stride_with_dilation`): [false, true, true] gives output stride 8, [false, false, true] 16.
   */
  replaceStrideWithDilation?: [boolean, boolean, boolean];
  /** `batch`: trainable BatchNorm2d; `frozen`: torchvision FrozenBatchNorm2d (eps 1e-5). Default `batch`. */
  normLayer?: NormLayer;
  /**
   * Stages excluded from training, whose BatchNorms also stay in inference mode: 0 freezes nothing; k in 1..4
   * freezes the stem (`conv1`, `bn1`) and `layer1..layerk` (mmdetection's `frozen_stages=k`, torchvision's
   * `trainable_layers=4-k`). Default 0.
   */
  frozenStages?: number;
  /** Initialize the last BatchNorm weight of every block to 0 (Goyal et al. 2017), torchvision's option. */
  zeroInitResidual?: boolean;
  /** Levels `forward` returns, ascending. Stages above the highest level are not built. Default C2..C5. */
  outLevels?: BackboneLevel[];
  /** Seed of the deterministic initialization. Default 0. */
  seed?: number;
}

/**
 * The ResNet trunk: stem (`conv1`, `bn1`, ReLU, 3x3/2 max pool) and stages `layer1..layer4`, without the
 * classifier. Its state names are torchvision's (`conv1.weight`, `layer1.0.conv1.weight`,
 * `layer1.0.downsample.0.weight`, `layer4.2.bn3.running_var`, ...).
 */
export class ResNet extends Module implements Backbone {
  readonly outLevels: readonly BackboneLevel[];
  readonly conv1: Conv2d;
  readonly bn1: Norm2d;
  readonly stages: ResStage[] = [];
  /** Specs of the built stages (C2 up to the last of `outLevels`). */
  private readonly specs: FeatureSpecs<BackboneLevel>;
  readonly options: Readonly<ResNetOptions>;

  constructor(opts: ResNetOptions) {
    super();
    this.options = { ...opts };
    const groups = opts.groups ?? 1;
    const baseWidth = opts.widthPerGroup ?? 64;
    const normLayer = opts.normLayer ?? 'batch';
    const rswd = opts.replaceStrideWithDilation ?? [false, false, false];
    const frozenStages = opts.frozenStages ?? 0;
    const zeroInitResidual = opts.zeroInitResidual ?? false;
    const outLevels = [...(opts.outLevels ?? BACKBONE_LEVELS)];
    if (rswd.length !== 3) throw new Error(`replaceStrideWithDilation must have 3 entries, got ${rswd.length}`);
    if (!Number.isInteger(frozenStages) || frozenStages < 0 || frozenStages > 4) {
      throw new Error(`frozenStages must be an integer in 0..4, got ${frozenStages}`);
    }
    if (outLevels.length === 0) throw new Error('outLevels must name at least one level of C2, C3, C4, C5');
    for (const l of outLevels) {
      if (!BACKBONE_LEVELS.includes(l)) throw new Error(`unknown level '${l}': a ResNet gives ${BACKBONE_LEVELS.join(', ')}`);
    }
    this.outLevels = BACKBONE_LEVELS.filter((l) => outLevels.includes(l));
    const seeds = new SeedSequence(opts.seed ?? 0);
    const Block = opts.block === 'basic' ? BasicBlock : Bottleneck;
    const expansion = Block.expansion;

    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d({ inChannels: 3, outChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false, init: 'kaimingNormalFanOut', seeds }),
    );
    this.bn1 = this.registerModule('bn1', buildNorm(normLayer, { numFeatures: 64 }));

    let inplanes = 64;
    let dilation = 1;
    let stride = 4;
    const specs: Partial<Record<BackboneLevel, FeatureSpec>> = {};
    const lastStage = BACKBONE_LEVELS.indexOf(this.outLevels[this.outLevels.length - 1]);
    const planesPerStage = [64, 128, 256, 512];
    for (let s = 0; s <= lastStage; s++) {
      const planes = planesPerStage[s];
      let blockStride = s === 0 ? 1 : 2;
      const previousDilation = dilation;
      if (s > 0 && rswd[s - 1]) {
        dilation *= blockStride;
        blockStride = 1;
      }
      stride *= blockStride;
      let downsample: Downsample | undefined;
      if (blockStride !== 1 || inplanes !== planes * expansion) {
        downsample = new Downsample(inplanes, planes * expansion, blockStride, normLayer, seeds);
      }
      const common = { groups, baseWidth, normLayer, zeroInitResidual, seeds };
      const blocks: ResidualBlock[] = [
        new Block({ ...common, inplanes, planes, stride: blockStride, downsample, dilation: previousDilation }),
      ];
      inplanes = planes * expansion;
      for (let i = 1; i < opts.layers[s]; i++) {
        blocks.push(new Block({ ...common, inplanes, planes, stride: 1, dilation }));
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, new ResStage(blocks)));
      specs[BACKBONE_LEVELS[s]] = { channels: inplanes, stride };
    }
    this.specs = specs;
    if (frozenStages >= 1) {
      this.conv1.setFrozen(true);
      this.bn1.setFrozen(true);
      for (let s = 0; s < Math.min(frozenStages, this.stages.length); s++) this.stages[s].setFrozen(true);
    }
  }

  /** Channels and stride of every level this backbone can give (all built stages), before any forward pass. */
  featureSpecs(): FeatureSpecs<BackboneLevel> {
    return { ...this.specs };
  }

  /** Channels of the last built stage (2048 for Bottleneck ResNets, 512 for ResNet-18/34). */
  get outChannels(): number {
    return specOf(this.specs, this.outLevels[this.outLevels.length - 1], 'ResNet').channels;
  }

  /**
   * Compute the feature pyramid.
   *
   * @param images [N, H, W, 3] float32, normalized RGB (ImageNet mean/std), NHWC. Not disposed.
   * @param ctx training mode (BatchNorm batch statistics and running-statistics updates).
   * @returns each level of `outLevels`, [N, ceil(H/stride), ceil(W/stride), channels] float32; caller owns them.
   * @throws Error when `images` is not [N, H, W, 3].
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext): FeatureMap<BackboneLevel> {
    if (images.rank !== 4 || images.shape[3] !== 3) {
      throw new Error(`ResNet takes NHWC images of shape [N, H, W, 3], got [${images.shape}]`);
    }
    return tf.tidy(() => {
      const out: Partial<FeatureMap<BackboneLevel>> = {};
      let x = this.bn1.forward(this.conv1.forward(images), ctx, { relu: true });
      // torchvision MaxPool2d(3, stride 2, padding 1): pads with -inf; inputs are >= 0 after ReLU, and tfjs's
      // explicit pool padding skips out-of-bounds positions, which is the same.
      x = tf.maxPool(x, 3, 2, 1);
      this.stages.forEach((stage, s) => {
        x = stage.forward(x, ctx);
        const level = BACKBONE_LEVELS[s];
        if (this.outLevels.includes(level)) out[level] = x;
      });
      return out as FeatureMap<BackboneLevel>;
    });
  }

  /**
   * Global-average-pooled embedding of the last built stage.
   *
   * @param images [N, H, W, 3] float32, normalized RGB, NHWC.
   * @returns [N, C] float32 (C = `outChannels`); caller owns it.
   */
  embed(images: tf.Tensor4D, ctx: ForwardContext = { training: false }): tf.Tensor2D {
    return tf.tidy(() => {
      const feats = this.forward(images, ctx);
      const last = feats[this.outLevels[this.outLevels.length - 1]];
      return tf.mean(last, [1, 2]) as tf.Tensor2D;
    });
  }
}

/** Options a builder accepts: everything but the architecture. */
export type ResNetBuilderOptions = Omit<ResNetOptions, 'block' | 'layers' | 'groups' | 'widthPerGroup'>;

/** ResNet-18 (torchvision `resnet18`). */
export function resnet18(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'basic', layers: [2, 2, 2, 2] });
}
/** ResNet-34 (torchvision `resnet34`). */
export function resnet34(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'basic', layers: [3, 4, 6, 3] });
}
/** ResNet-50 (torchvision `resnet50`). */
export function resnet50(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 4, 6, 3] });
}
/** ResNet-101 (torchvision `resnet101`). */
export function resnet101(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 4, 23, 3] });
}
/** ResNet-152 (torchvision `resnet152`). */
export function resnet152(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 8, 36, 3] });
}
/** Wide ResNet-50-2 (torchvision `wide_resnet50_2`): bottleneck width doubled. */
export function wideResnet50_2(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 4, 6, 3], widthPerGroup: 128 });
}
/** Wide ResNet-101-2 (torchvision `wide_resnet101_2`). */
export function wideResnet101_2(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 4, 23, 3], widthPerGroup: 128 });
}
/** ResNeXt-50 32x4d (torchvision `resnext50_32x4d`). */
export function resnext50_32x4d(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 });
}
/** ResNeXt-101 32x8d (torchvision `resnext101_32x8d`). */
export function resnext101_32x8d(o: ResNetBuilderOptions = {}): ResNet {
  return new ResNet({ ...o, block: 'bottleneck', layers: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 });
}

/** Every backbone by its torchvision name. Adding a model is adding one line here and its name in `./names.ts`. */
export const BACKBONES = {
  resnet18,
  resnet34,
  resnet50,
  resnet101,
  resnet152,
  wide_resnet50_2: wideResnet50_2,
  wide_resnet101_2: wideResnet101_2,
  resnext50_32x4d,
  resnext101_32x8d,
} satisfies Record<BackboneName, (o?: ResNetBuilderOptions) => ResNet>;
// `satisfies` checks both ways: a name without a builder is missing, a builder without a name is an excess key.

export { BACKBONE_NAMES, type BackboneName };

/**
 * Build a backbone by its torchvision name.
 * @throws Error for an unknown name, listing the known ones.
 */
export function buildBackbone(name: string, opts: ResNetBuilderOptions = {}): ResNet {
  if (!(name in BACKBONES)) {
    throw new Error(`unknown model '${name}': expected one of ${BACKBONE_NAMES.join(', ')}`);
  }
  return BACKBONES[name as BackboneName](opts);
}
