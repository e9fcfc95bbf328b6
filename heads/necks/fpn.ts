/**
 * Feature Pyramid Network (Lin et al. 2017, "Feature Pyramid Networks for Object Detection"): lateral 1x1
 * convolutions on backbone levels `C_l`, a top-down pathway with nearest-neighbour upsampling, 3x3 output
 * convolutions giving `P_l` with the same stride, and optional extra levels above the top one.
 *
 * State names are torchvision's `FeaturePyramidNetwork` (≥ 0.13, `Conv2dNormActivation` wrappers):
 * `inner_blocks.{i}.0.weight|bias`, `layer_blocks.{i}.0.weight|bias`, `extra_blocks.p6|p7.weight|bias` (i in
 * ascending level order). Mounted in a detector under `backbone.fpn.`.
 *
 * Reference: torchvision `ops/feature_pyramid_network.py` (`FeaturePyramidNetwork`, `LastLevelP6P7`,
 * `LastLevelMaxPool`), detectron2 `modeling/backbone/fpn.py` (stride checks).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKBONE_LEVELS, BackboneLevel, FeatureMap, FeatureSpec, type FeatureSpecs, type Neck, PYRAMID_LEVELS, PyramidLevel, pyramidLevelOf } from '../../src/backbone/features';
import { SeedSequence } from '../../src/common/seed';
import { Conv2d, ModuleList } from '../../src/nn/layers';
import { ForwardContext, Module } from '../../src/nn/module';


/**
 * Levels above the top input level:
 * - `none`: only `P_l` for each input `C_l`;
 * - `p6p7`: RetinaNet's P6 = conv3x3/2(source), P7 = conv3x3/2(relu(P6)), with `source` the top pyramid output
 *   (`P5`, torchvision `LastLevelP6P7(256, 256)`, retinanet_resnet50_fpn v1) or the top backbone level (`C5`,
 *   `LastLevelP6P7(2048, 256)`, v2 and the paper);
 * - `maxpool`: one extra level, max-pool 1x1 stride 2 of the top output (torchvision `LastLevelMaxPool`, used by
 *   Faster R-CNN).
 */
export type FpnTopBlock = { kind: 'none' } | { kind: 'p6p7'; source: 'P5' | 'C5' } | { kind: 'maxpool' };

/** Options of `FeaturePyramidNetwork`. */
export interface FpnOptions {
  /** Backbone levels used, ascending and consecutive, e.g. ['C3', 'C4', 'C5']. */
  inLevels: BackboneLevel[];
  /** Specs of the backbone (`backbone.featureSpecs()`): channels and strides of the input levels come from here. */
  inSpecs: FeatureSpecs<BackboneLevel>;
  /** Channels of every output level. torchvision: 256. */
  outChannels: number;
  /** Extra levels above the top input level. */
  topBlock: FpnTopBlock;
  /** Seed of the initialization (kaiming_uniform with a=1, zero biases, as torchvision). Default 0. */
  seed?: number;
}

/** `Conv2dNormActivation` without norm and activation: a Sequential holding one conv (state `{i}.0.*`). */
class ConvBlock extends ModuleList<Conv2d> {
  get conv(): Conv2d {
    return this.items[0];
  }
}

/** torchvision FPN init: kaiming_uniform_(a=1) = U(-sqrt(3 / fanIn), sqrt(3 / fanIn)), bias 0. */
function fpnConv(inChannels: number, outChannels: number, kernelSize: number, stride: number, seeds: SeedSequence): Conv2d {
  const conv = new Conv2d({ inChannels, outChannels, kernelSize, stride, padding: (kernelSize - 1) / 2, init: 'zeros', seeds });
  const bound = Math.sqrt(3 / (inChannels * kernelSize * kernelSize));
  tf.tidy(() => conv.weight.assign(tf.randomUniform(conv.weight.shape, -bound, bound, 'float32', seeds.next())));
  return conv;
}

/** P6/P7 convolutions (torchvision `LastLevelP6P7`: state `p6.*`, `p7.*`). */
class LastLevelP6P7 extends Module {
  readonly p6: Conv2d;
  readonly p7: Conv2d;
  constructor(inChannels: number, outChannels: number, seeds: SeedSequence) {
    super();
    this.p6 = this.registerModule('p6', fpnConv(inChannels, outChannels, 3, 2, seeds));
    this.p7 = this.registerModule('p7', fpnConv(outChannels, outChannels, 3, 2, seeds));
  }
}

/**
 * The FPN neck: `FeatureMap<C_l>` in, `FeatureMap<P_l>` out, every output with `outChannels` channels.
 */
export class FeaturePyramidNetwork extends Module implements Neck<BackboneLevel, PyramidLevel> {
  readonly inLevels: readonly BackboneLevel[];
  /** Output levels, ascending: `P_l` for each input `C_l`, then the extra levels. */
  readonly outLevels: readonly PyramidLevel[];
  readonly innerBlocks: ModuleList<ConvBlock>;
  readonly layerBlocks: ModuleList<ConvBlock>;
  readonly extraBlocks?: LastLevelP6P7;
  readonly topBlock: FpnTopBlock;
  private readonly specs: Partial<Record<PyramidLevel, FeatureSpec>>;

  /**
   * @throws Error when an input level is unknown or missing from `inSpecs` (listing the available levels), when
   *   the levels are not ascending and consecutive, when strides do not double level by level (a dilated
   *   backbone), or when the extra levels would go beyond P7.
   */
  constructor(opts: FpnOptions) {
    super();
    const { inLevels, inSpecs, outChannels, topBlock } = opts;
    const available = BACKBONE_LEVELS.filter((l) => inSpecs[l] !== undefined);
    if (inLevels.length === 0) throw new Error(`FPN: inLevels is empty; the backbone gives ${available.join(', ')}`);
    const levelSpecs = inLevels.map((l): FeatureSpec => {
      if (!BACKBONE_LEVELS.includes(l)) throw new Error(`FPN: unknown level '${l}': expected one of ${BACKBONE_LEVELS.join(', ')}`);
      const s = inSpecs[l];
      if (!s) throw new Error(`FPN: the backbone does not give level ${l}; it gives ${available.join(', ')}`);
      return s;
    });
    const idx = inLevels.map((l) => BACKBONE_LEVELS.indexOf(l));
    for (let i = 1; i < idx.length; i++) {
      if (idx[i] !== idx[i - 1] + 1) throw new Error(`FPN: inLevels must be ascending and consecutive, got ${inLevels.join(', ')}`);
      const a = levelSpecs[i - 1].stride;
      const b = levelSpecs[i].stride;
      if (b !== 2 * a) {
        throw new Error(
          `FPN: input strides must double level by level, but ${inLevels[i - 1]} has stride ${a} and ${inLevels[i]} stride ${b} ` +
            '(a dilated backbone cannot feed an FPN)',
        );
      }
    }
    if (!Number.isInteger(outChannels) || outChannels <= 0) throw new Error(`FPN: outChannels must be a positive integer, got ${outChannels}`);
    this.inLevels = [...inLevels];
    this.topBlock = topBlock;
    const seeds = new SeedSequence(opts.seed ?? 0);
    this.innerBlocks = this.registerModule(
      'inner_blocks',
      new ModuleList(levelSpecs.map((s) => new ConvBlock([fpnConv(s.channels, outChannels, 1, 1, seeds)]))),
    );
    this.layerBlocks = this.registerModule(
      'layer_blocks',
      new ModuleList(inLevels.map(() => new ConvBlock([fpnConv(outChannels, outChannels, 3, 1, seeds)]))),
    );
    const top = inLevels[inLevels.length - 1];
    const topSpec = levelSpecs[levelSpecs.length - 1];
    const topIndex = PYRAMID_LEVELS.indexOf(pyramidLevelOf(top));
    const outLevels = inLevels.map(pyramidLevelOf);
    const specs: Partial<Record<PyramidLevel, FeatureSpec>> = {};
    levelSpecs.forEach((s, i) => (specs[outLevels[i]] = { channels: outChannels, stride: s.stride }));
    const extra = topBlock.kind === 'p6p7' ? 2 : topBlock.kind === 'maxpool' ? 1 : 0;
    if (topIndex + extra >= PYRAMID_LEVELS.length) {
      throw new Error(`FPN: ${extra} extra level(s) above ${outLevels[outLevels.length - 1]} would go beyond P7`);
    }
    for (let k = 1; k <= extra; k++) {
      const lvl = PYRAMID_LEVELS[topIndex + k];
      outLevels.push(lvl);
      specs[lvl] = { channels: outChannels, stride: topSpec.stride * 2 ** k };
    }
    switch (topBlock.kind) {
      case 'none':
      case 'maxpool':
        break;
      case 'p6p7': {
        const inCh = topBlock.source === 'P5' ? outChannels : topSpec.channels;
        if (topBlock.source !== 'P5' && topBlock.source !== 'C5') {
          throw new Error(`FPN: p6p7 source must be 'P5' or 'C5', got '${String(topBlock.source)}'`);
        }
        this.extraBlocks = this.registerModule('extra_blocks', new LastLevelP6P7(inCh, outChannels, seeds));
        break;
      }
      default: {
        const never: never = topBlock;
        throw new Error(`FPN: unknown topBlock ${JSON.stringify(never)}: expected kind 'none', 'p6p7' or 'maxpool'`);
      }
    }
    this.outLevels = outLevels;
    this.specs = specs;
  }

  /** Channels and stride of every output level, before any forward pass. */
  featureSpecs(): FeatureSpecs<PyramidLevel> {
    const out: Partial<Record<PyramidLevel, FeatureSpec>> = {};
    for (const l of this.outLevels) {
      const s = this.specs[l];
      if (s) out[l] = { ...s };
    }
    return out;
  }

  /**
   * Compute the pyramid.
   * @param features the input levels `inLevels`, each [N, Hl, Wl, Cl] float32 NHWC; not disposed.
   * @param _ctx unused (no normalization layers); kept for the neck interface.
   * @returns each level of `outLevels`, [N, Hl, Wl, outChannels] float32 (P_l has C_l's size; extra levels
   *   halve the size with ceil); caller owns them.
   * @throws Error when an input level is missing or has the wrong channel count.
   */
  forward(features: Partial<FeatureMap<BackboneLevel>>, _ctx?: ForwardContext): FeatureMap<PyramidLevel> {
    const xs = this.inLevels.map((l, i) => {
      const x = features[l];
      if (!x) throw new Error(`FPN.forward: level ${l} missing from the input (got ${Object.keys(features).join(', ')})`);
      const c = this.innerBlocks.items[i].conv.options.inChannels;
      if (x.rank !== 4 || x.shape[3] !== c) throw new Error(`FPN.forward: ${l} must be [N, H, W, ${c}], got [${x.shape}]`);
      return x;
    });
    return tf.tidy(() => {
      const n = xs.length;
      const results: tf.Tensor4D[] = new Array(n);
      let lastInner = this.innerBlocks.items[n - 1].conv.forward(xs[n - 1]);
      results[n - 1] = this.layerBlocks.items[n - 1].conv.forward(lastInner);
      for (let i = n - 2; i >= 0; i--) {
        const lateral = this.innerBlocks.items[i].conv.forward(xs[i]);
        // F.interpolate(size=lateral's size, mode='nearest'): source index floor(dst * in / out), as tfjs's
        // resizeNearestNeighbor with alignCorners=false and halfPixelCenters=false.
        const topDown = tf.image.resizeNearestNeighbor(lastInner, [lateral.shape[1], lateral.shape[2]], false, false);
        lastInner = tf.add(lateral, topDown);
        results[i] = this.layerBlocks.items[i].conv.forward(lastInner);
      }
      const out: Partial<FeatureMap<PyramidLevel>> = {};
      results.forEach((r, i) => (out[this.outLevels[i]] = r));
      const tb = this.topBlock;
      const extra = this.extraBlocks;
      if (tb.kind === 'p6p7' && extra) {
        const src = tb.source === 'P5' ? results[n - 1] : xs[n - 1];
        const p6 = extra.p6.forward(src);
        out[this.outLevels[n]] = p6;
        out[this.outLevels[n + 1]] = extra.p7.forward(tf.relu(p6));
      } else if (tb.kind === 'maxpool') {
        out[this.outLevels[n]] = tf.maxPool(results[n - 1], 1, 2, 0);
      }
      return out as FeatureMap<PyramidLevel>;
    });
  }
}
