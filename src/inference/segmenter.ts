/**
 * Semantic segmentation from code: a trained segmentation model and its classes, `segment(image)` returning the
 * class of every pixel of the image as given. The steps are those of `resvision predict` (`predictSegmentation` in
 * `src/tasks/segmentation.ts`), on the same functions: the image at each test scale (`multiScaleInputs`: shorter
 * side `data.evalShortEdge` times each of `eval.scales`, Pillow's bilinear arithmetic, ImageNet normalization),
 * then `inferSegmentation` (optional flip and sliding window, logits resized to the original size, softmax, mean,
 * argmax).
 *
 * Reference: mmsegmentation `EncoderDecoder.inference` / `aug_test` (0.x); @tensorflow-models/deeplab
 * (`load()` then `model.segment(img)`).
 */
import { multiScaleInputs } from '../../datasets/pipeline/multi_scale';
import { inferSegmentation } from '../../heads/segmentation/inference';
import type { SegmentationInferenceOptions, SegmentationRunConfig } from '../tasks/segmentation';
import { buildSegmentationModel, type SegmentationTaskModel } from '../tasks/models';
import { openCheckpointSource, restoreInto, runConfigOf, type CheckpointLoadOptions, type CheckpointSource, type OpenedCheckpoint } from './checkpoint_source';
import type { ImageDecoder } from './detector';
import { toRgbImage, type ImageInput } from './image_input';

/** One class present in a segmentation. */
export interface SegmentClass {
  className: string;
  /** Class index 0..K-1. */
  label: number;
  /** Share of the image's pixels, 0..1. */
  fraction: number;
}

/** What {@link Segmenter.segment} returns, at the size of the image given. */
export interface Segmentation {
  /** H, W of the image, pixels. */
  height: number;
  width: number;
  /** [H * W] uint8 class indices 0..K-1, row-major. */
  classMap: Uint8Array;
  /** [H * W * K] float32 mean probabilities 0..1 over the test passes, row-major then class. */
  probabilities: Float32Array;
  /** Classes present, by decreasing area (ties: lower label first), as `resvision predict --json` lists them. */
  classes: SegmentClass[];
}

/** A trained segmentation model with its classes. Owns its model: call `dispose()` when done. */
export class Segmenter<I = ImageInput> {
  constructor(
    readonly model: SegmentationTaskModel,
    readonly config: SegmentationRunConfig,
    private readonly decode: ImageDecoder<I>,
  ) {}

  /** K class names, in label order. */
  get classes(): readonly string[] {
    return this.config.classes;
  }

  /** The test-time options of the checkpoint's config (`data.evalShortEdge`, `eval.scales`, `eval.flip`, `eval.slidingWindow`). */
  get inferenceOptions(): SegmentationInferenceOptions {
    const c = this.config;
    return { shortEdge: c.data.evalShortEdge, scales: c.eval.scales, flip: c.eval.flip, slidingWindow: c.eval.slidingWindow };
  }

  /**
   * The class of every pixel of one image.
   * @param image see {@link ImageInput} (in Node also a file path or encoded bytes); a tensor is not disposed.
   * @param opts overrides of {@link inferenceOptions} (scales, flip, sliding window, shorter side).
   * @returns the class map and probabilities at the image's size, and the classes present. No tensor outlives the call.
   * @throws ImageInputError for an input that is not an image; Error for empty or non-positive scales or window sizes.
   */
  async segment(image: I, opts: Partial<SegmentationInferenceOptions> = {}): Promise<Segmentation> {
    const o = { ...this.inferenceOptions, ...opts };
    const rgb = await this.decode(image);
    const scaled = multiScaleInputs(rgb, o.shortEdge, o.scales);
    const { mask, probabilities } = await inferSegmentation(this.model, { scaled, height: rgb.height, width: rgb.width, flip: o.flip, slidingWindow: o.slidingWindow });
    const counts = new Float64Array(this.config.classes.length);
    for (let i = 0; i < mask.length; i++) counts[mask[i]]++;
    const classes = [...counts.keys()]
      .filter((k) => counts[k] > 0)
      .sort((a, b) => counts[b] - counts[a] || a - b)
      .map((k) => ({ className: this.config.classes[k], label: k, fraction: counts[k] / mask.length }));
    return { height: rgb.height, width: rgb.width, classMap: mask, probabilities, classes };
  }

  /** Release the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Build a segmenter from an opened checkpoint: the architecture of its stored config without the auxiliary head
 * (its tensors in the checkpoint are skipped), its weights.
 * @throws Error naming the checkpoint when it is not a segmentation checkpoint, its class names do not match
 *   `model.numClasses`, or its weights do not fit.
 */
export async function segmenterFromCheckpoint<I>(ckpt: OpenedCheckpoint, decode: ImageDecoder<I>): Promise<Segmenter<I>> {
  const run = runConfigOf<SegmentationRunConfig>(ckpt, 'segmentation', ['classes']);
  if (run.classes.length !== run.model.numClasses) {
    throw new Error(`${ckpt.name}: ${run.classes.length} class names stored for model.numClasses ${run.model.numClasses}`);
  }
  const model = buildSegmentationModel(run, { aux: false });
  return new Segmenter(await restoreInto(model, ckpt, (name) => name.startsWith('aux_classifier.')), run, decode);
}

/**
 * Load a segmentation model trained by `resvision train` (a segmentation checkpoint).
 * @param source the checkpoint's bytes, its URL, or a `tf.io.IOHandler` (see {@link CheckpointSource}).
 * @returns the segmenter; the caller disposes it.
 * @throws Error naming the source when it cannot be read, is not a segmentation checkpoint, or does not fit.
 */
export async function loadSegmenter(source: CheckpointSource, opts: CheckpointLoadOptions = {}): Promise<Segmenter> {
  return segmenterFromCheckpoint(await openCheckpointSource(source, opts), toRgbImage);
}
