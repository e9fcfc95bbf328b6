/**
 * Backbone features from code: a torchvision ResNet (random, or with weights) and `extract(image)` returning its
 * levels C2..C5 and the pooled embedding. The input goes through torchvision's classification evaluation preset
 * (shorter side `resizeSize`, central `cropSize` square, ImageNet normalization), as `resvision extract-features`
 * does, so `pooled` is the row that command writes for the same image and weights.
 *
 * Reference: timm `features_only` / `forward_features`; torchvision `IntermediateLayerGetter`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BACKBONE_LEVELS, type BackboneLevel } from '../backbone/features';
import { buildBackbone, type ResNet } from '../backbone/resnet';
import { loadModelWeights, type WeightsSource } from '../weights/model_weights';
import { classificationEvalInput } from './classifier';
import type { ImageDecoder } from './detector';
import { toRgbImage, type ImageInput } from './image_input';

/** What {@link FeatureExtractor.extract} returns: new tensors the caller disposes. */
export type ExtractedFeatures = Partial<Record<BackboneLevel, tf.Tensor4D>> & {
  /** [1, C] float32: the global average of the last level (C5 by default), `ResNet.embed`. */
  pooled: tf.Tensor2D;
};

/** Options of `loadFeatureExtractor`. */
export interface FeatureExtractorOptions {
  /**
   * Weights named by the backbone's state names (`conv1.weight`, `layer1.0.conv1.weight`, HWIO): a resvision
   * checkpoint's bytes or URL (a classifier's `fc.*` is ignored) or a `tf.io.IOHandler`; in Node also a path to
   * torchvision/timm weights (.pth, .safetensors). Absent: the seeded random initialization.
   */
  weights?: WeightsSource;
  /** Levels returned, ascending; default C2..C5. */
  outLevels?: BackboneLevel[];
  /** Shorter side before the center crop, pixels; default 256 (torchvision's evaluation preset). */
  resizeSize?: number;
  /** Side of the central square crop, pixels; default 224. */
  cropSize?: number;
}

/** A ResNet trunk returning its feature levels. Owns its backbone: call `dispose()` when done. */
export class FeatureExtractor<I = ImageInput> {
  readonly resizeSize: number;
  readonly cropSize: number;

  constructor(
    readonly backbone: ResNet,
    private readonly decode: ImageDecoder<I>,
    opts: { resizeSize?: number; cropSize?: number } = {},
  ) {
    this.resizeSize = opts.resizeSize ?? 256;
    this.cropSize = opts.cropSize ?? 224;
  }

  /**
   * The backbone's levels for one image (inference mode).
   * @param image see {@link ImageInput} (in Node also a file path or encoded bytes); a tensor is not disposed.
   * @returns each level of `backbone.outLevels` as [1, ceil(cropSize / stride), ..., C] float32 NHWC, and `pooled`
   *   [1, C]; new tensors the caller disposes.
   * @throws ImageInputError for an input that is not an image; Error when the crop exceeds the resized image.
   */
  async extract(image: I): Promise<ExtractedFeatures> {
    const rgb = await this.decode(image);
    const x = classificationEvalInput(rgb, this.resizeSize, this.cropSize);
    return tf.tidy(() => {
      const feats = this.backbone.forward(tf.tensor4d(x.data, [1, x.height, x.width, 3]), { training: false });
      const last = feats[this.backbone.outLevels[this.backbone.outLevels.length - 1]];
      return { ...feats, pooled: tf.mean(last, [1, 2]) as tf.Tensor2D };
    });
  }

  /** Release the backbone's weights. */
  dispose(): void {
    this.backbone.dispose();
  }
}

/**
 * Copy resvision-named weights into a backbone: every backbone tensor required, a classifier's `fc.*` ignored.
 * @param name what error messages call the source (a file name).
 * @throws Error naming the source when a backbone tensor is missing, another is unexpected, or a shape differs.
 */
export async function loadBackboneWeights(backbone: ResNet, weights: WeightsSource, name?: string): Promise<void> {
  const r = await loadModelWeights(backbone, weights, { strict: false, name });
  const bad = [...r.missing.map((n) => `missing ${n}`), ...r.unexpected.filter((n) => !n.startsWith('fc.')).map((n) => `unexpected ${n}`)];
  if (bad.length > 0) throw new Error(`${name ?? 'feature extractor weights'}: weights do not fit the backbone: ${bad.slice(0, 8).join(', ')}${bad.length > 8 ? ` (${bad.length} in all)` : ''}`);
}

/**
 * A feature extractor on the torchvision ResNet `name` (`resnet18` ... `resnet152`, `resnext50_32x4d`,
 * `wide_resnet50_2`, ...).
 * @returns the extractor; the caller disposes it.
 * @throws Error for an unknown name or level (listing the valid ones), or weights that do not fit.
 */
export async function loadFeatureExtractor(name: string, opts: FeatureExtractorOptions = {}): Promise<FeatureExtractor> {
  const backbone = buildBackbone(name, { outLevels: opts.outLevels ?? [...BACKBONE_LEVELS] });
  try {
    if (opts.weights !== undefined) await loadBackboneWeights(backbone, opts.weights);
  } catch (e) {
    backbone.dispose();
    throw e;
  }
  return new FeatureExtractor(backbone, toRgbImage, opts);
}
