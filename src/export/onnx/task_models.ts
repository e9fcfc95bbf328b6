/**
 * Task models run by ONNX Runtime: objects with the same `predict` (or forward pass) the tasks call on the tfjs
 * models, so that a task only chooses which model object to use (`--engine onnx`). Preprocessing, post-processing,
 * evaluators and pictures stay the task's, unchanged:
 * - `OnnxClassifier.predict(images)`: the graph's `logits` [N, K], softmax in JS (as `ResNetClassifier.predict`);
 * - `OnnxRetinaNet.predict({ images, imageSizes })`: the graph's `clsLogits`, `boxDeltas` and `anchors`, then the
 *   model's own post-processing (`postprocessDetections`, with the box coder, per-level counts and thresholds of the
 *   RetinaNet the graph was exported from);
 * - `OnnxSegmenter.forwardAsync(images)`: the graph's `logits` at input size, for `inferSegmentation` (scales,
 *   flips, sliding windows, resize to the original size);
 * - `OnnxFeatureExtractor.embed(images)`: the graph's `pooled` [N, C].
 *
 * Each wraps an `OnnxRuntimeModel` session. The graph comes from a tfjs model exported on the fly (in memory), or
 * from an `.onnx` file written by `resvision export`, whose metadata (`resvision.kind`, `resvision.classes`,
 * `resvision.config`) says what it holds; what the graph does not carry (strides, anchors per location,
 * thresholds, size divisibility) is read from the tfjs model the config builds, so it is never restated here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import type { ResNetClassifier, ClassificationPrediction } from '../../../heads/classification/model';
import type { DetectionPredictInput, RetinaNet } from '../../../heads/detection/model';
import { type Detections, postprocessDetections } from '../../../heads/detection/postprocess';
import type { AsyncSegmentationPredictor } from '../../../heads/segmentation/inference';
import type { SegmentationModel } from '../../../heads/segmentation/model';
import type { SemanticFpn } from '../../../heads/segmentation/semantic_fpn';
import { specOf } from '../../backbone/features';
import type { ResNet } from '../../backbone/resnet';
import { type OnnxExportTarget, exportOnnx } from './export';
import { decodeOnnxModel } from './graph';
import { OnnxRuntimeModel, type OnnxOutput, type OnnxRuntimeOptions, nchwToNhwc, nhwcToNchw } from '../../engine/onnx_runtime';

/** Which library runs a model's forward pass: tfjs (the default) or ONNX Runtime (`onnxruntime-node`). */
export type InferenceEngine = 'tfjs' | 'onnx';

/** The engines `--engine` accepts. */
export const INFERENCE_ENGINES: readonly InferenceEngine[] = ['tfjs', 'onnx'];

/** What a `resvision export` file says about itself (its `metadata_props`). */
export interface OnnxFileInfo {
  file: string;
  /** The graph bytes, for `OnnxRuntimeModel.create`. */
  bytes: Uint8Array;
  /** `resvision.kind`: the export target (`classifier`, `features`, `retinanet`, `segmentation`). */
  kind: OnnxExportTarget['kind'];
  /** `resvision.classes`: class names in label order. */
  classes: string[];
  /** `resvision.config`: the config stored in the checkpoint it was exported from (not validated here). */
  config: Record<string, unknown>;
  /** `resvision.categoryIds` (detectors): the category id of each class; absent in files that do not carry it. */
  categoryIds?: number[];
}

/**
 * Read an `.onnx` file written by `resvision export` and its metadata.
 * @param expected the export targets the caller can run; another is an error naming the file.
 * @throws Error naming the file when it is missing, is not an ONNX model, lacks resvision's metadata, or holds
 *   another kind of model than `expected`.
 */
export function readOnnxFile(file: string, expected: readonly OnnxExportTarget['kind'][]): OnnxFileInfo {
  if (!fs.existsSync(file)) throw new Error(`ONNX model not found: ${file}`);
  const bytes = new Uint8Array(fs.readFileSync(file));
  let meta: Record<string, string>;
  try {
    meta = Object.fromEntries(decodeOnnxModel(bytes).metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  } catch (e) {
    throw new Error(`${file}: not an ONNX model (${(e as Error).message.split('\n')[0]})`);
  }
  const kind = meta['resvision.kind'] as OnnxExportTarget['kind'] | undefined;
  if (!kind || !meta['resvision.classes'] || !meta['resvision.config']) {
    throw new Error(`${file}: no resvision.kind, resvision.classes and resvision.config in its metadata; write it with \`resvision export CHECKPOINT --out ${file}\``);
  }
  if (!expected.includes(kind)) throw new Error(`${file}: holds a ${kind} model; this command runs ${expected.join(' or ')} models`);
  let classes: unknown;
  let config: unknown;
  let categoryIds: unknown;
  try {
    classes = JSON.parse(meta['resvision.classes']);
    config = JSON.parse(meta['resvision.config']);
    categoryIds = meta['resvision.categoryIds'] ? JSON.parse(meta['resvision.categoryIds']) : undefined;
  } catch (e) {
    throw new Error(`${file}: its resvision metadata is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(classes) || !config || typeof config !== 'object') throw new Error(`${file}: resvision.classes must be a JSON array and resvision.config an object`);
  if (categoryIds !== undefined && !(Array.isArray(categoryIds) && categoryIds.length === classes.length)) {
    throw new Error(`${file}: resvision.categoryIds must be a JSON array of ${classes.length} ids, one per class`);
  }
  return { file, bytes, kind, classes: classes as string[], config: config as Record<string, unknown>, categoryIds: categoryIds as number[] | undefined };
}

/**
 * Hand a tfjs model to ONNX Runtime: `open` exports it and opens a session; the tfjs model is disposed afterwards,
 * whether that succeeds or not.
 * @returns what `open` returns.
 */
export async function handToOnnxRuntime<M extends { dispose(): void }, O>(model: M, open: (model: M) => Promise<O>): Promise<O> {
  try {
    return await open(model);
  } finally {
    model.dispose();
  }
}

/** Open a session on a target exported in memory, or on the bytes of a file. */
function openSession(source: OnnxExportTarget | OnnxFileInfo, opts: OnnxRuntimeOptions): Promise<OnnxRuntimeModel> {
  return OnnxRuntimeModel.create('bytes' in source ? source.bytes : exportOnnx(source).bytes, opts);
}

/** Run a session on an NHWC tfjs batch. @returns the outputs by name. */
async function runNhwc(session: OnnxRuntimeModel, images: tf.Tensor4D): Promise<Record<string, OnnxOutput>> {
  if (images.rank !== 4 || images.shape[3] !== 3) throw new Error(`ONNX Runtime models take NHWC images [N, H, W, 3], got [${images.shape}]`);
  const [n, h, w] = images.shape;
  const nchw = nhwcToNchw((await images.data()) as Float32Array, [n, h, w, 3]);
  return session.run(nchw, [n, 3, h, w]);
}

/** One output by name. @throws Error when the graph lacks it. */
function output(out: Record<string, OnnxOutput>, name: string): OnnxOutput {
  const o = out[name];
  if (!o) throw new Error(`the ONNX model has no output '${name}' (outputs: ${Object.keys(out).join(', ')})`);
  return o;
}

/** A ResNet classifier run by ONNX Runtime; `predict` as `ResNetClassifier.predict`. */
export class OnnxClassifier {
  private constructor(private readonly session: OnnxRuntimeModel, readonly numClasses: number) {}

  /**
   * @param source the classifier (exported in memory) or a `classifier` file.
   * @param numClasses K.
   */
  static async create(source: ResNetClassifier | OnnxFileInfo, numClasses: number, opts: OnnxRuntimeOptions = {}): Promise<OnnxClassifier> {
    const s = await openSession('bytes' in source ? source : { kind: 'classifier', model: source }, opts);
    return new OnnxClassifier(s, numClasses);
  }

  /**
   * @param images [N, H, W, 3] float32 normalized RGB, NHWC; not disposed.
   * @returns `logits` [N * K] float32 and their softmax `probs` [N * K] (computed in float64, stored float32).
   */
  async predict(images: tf.Tensor4D): Promise<ClassificationPrediction> {
    const logits = output(await runNhwc(this.session, images), 'logits').data;
    const k = this.numClasses;
    if (logits.length !== images.shape[0] * k) throw new Error(`the ONNX classifier gave ${logits.length} logits for ${images.shape[0]} images of ${k} classes`);
    const probs = new Float32Array(logits.length);
    for (let r = 0; r < logits.length; r += k) {
      let m = -Infinity;
      for (let j = 0; j < k; j++) m = Math.max(m, logits[r + j]);
      let s = 0;
      for (let j = 0; j < k; j++) s += Math.exp(logits[r + j] - m);
      for (let j = 0; j < k; j++) probs[r + j] = Math.exp(logits[r + j] - m) / s;
    }
    return { logits, probs };
  }

  /** Release the session. */
  dispose(): Promise<void> {
    return this.session.release();
  }
}

/**
 * RetinaNet run by ONNX Runtime: the graph gives the raw head outputs and anchors, the post-processing is the
 * tfjs model's (`postprocessDetections` with its box coder and `postprocess` options); `predict` as
 * `RetinaNet.predict`.
 */
export class OnnxRetinaNet {
  readonly numClasses: number;
  readonly sizeDivisibility: number;
  private readonly strides: number[];
  private readonly anchorsPerLocation: number;
  private readonly boxCoder: RetinaNet['boxCoder'];
  private readonly postprocess: RetinaNet['options']['postprocess'];

  private constructor(private readonly session: OnnxRuntimeModel, model: RetinaNet) {
    this.numClasses = model.numClasses;
    this.sizeDivisibility = model.sizeDivisibility;
    const specs = model.featureSpecs();
    this.strides = model.levels.map((l) => specOf(specs, l, 'OnnxRetinaNet').stride);
    this.anchorsPerLocation = model.anchorGenerator.numAnchorsPerLocation()[0];
    this.boxCoder = model.boxCoder;
    this.postprocess = model.options.postprocess;
  }

  /**
   * @param model the RetinaNet: exported in memory when `file` is absent; otherwise it only gives the strides,
   *   anchors per location, box coder and thresholds (its weights are unused). Not disposed.
   * @param file a `retinanet` file from `readOnnxFile`, holding the same architecture.
   */
  static async create(model: RetinaNet, file?: OnnxFileInfo, opts: OnnxRuntimeOptions = {}): Promise<OnnxRetinaNet> {
    return new OnnxRetinaNet(await openSession(file ?? { kind: 'retinanet', model }, opts), model);
  }

  /**
   * @param input.images [N, H, W, 3] float32 normalized RGB, NHWC, H and W multiples of `sizeDivisibility`.
   * @returns detections per image in the input frame, as `RetinaNet.predict`.
   * @throws Error when the graph's outputs do not fit the anchors of this architecture (another model's file).
   */
  async predict(input: DetectionPredictInput): Promise<Detections[]> {
    const { images, imageSizes } = input;
    if (imageSizes.length !== images.shape[0]) throw new Error(`OnnxRetinaNet.predict: ${images.shape[0]} images but ${imageSizes.length} image sizes`);
    const out = await runNhwc(this.session, images);
    const [, h, w] = images.shape;
    const counts = this.strides.map((s) => Math.ceil(h / s) * Math.ceil(w / s) * this.anchorsPerLocation);
    const anchors = output(out, 'anchors');
    const r = counts.reduce((a, b) => a + b, 0);
    if (anchors.dims[0] !== r) {
      throw new Error(`the ONNX RetinaNet gives ${anchors.dims[0]} anchors for a ${h}x${w} input, the config's architecture ${r}: the file and the config describe different models`);
    }
    return postprocessDetections(output(out, 'clsLogits').data, output(out, 'boxDeltas').data, anchors.data, counts, this.numClasses, imageSizes, this.boxCoder, this.postprocess);
  }

  /** Release the session. */
  dispose(): Promise<void> {
    return this.session.release();
  }
}

/** A segmentation model run by ONNX Runtime, for `inferSegmentation` (its `forwardAsync` pass). */
export class OnnxSegmenter implements AsyncSegmentationPredictor {
  readonly numClasses: number;
  readonly sizeDivisibility: number;

  private constructor(private readonly session: OnnxRuntimeModel, model: SegmentationModel | SemanticFpn) {
    this.numClasses = model.numClasses;
    this.sizeDivisibility = model.sizeDivisibility;
  }

  /**
   * @param model the segmentation model: exported in memory when `file` is absent; otherwise it only gives the
   *   class count and size divisibility. Not disposed.
   * @param file a `segmentation` file from `readOnnxFile`.
   */
  static async create(model: SegmentationModel | SemanticFpn, file?: OnnxFileInfo, opts: OnnxRuntimeOptions = {}): Promise<OnnxSegmenter> {
    return new OnnxSegmenter(await openSession(file ?? { kind: 'segmentation', model }, opts), model);
  }

  /**
   * @param images [N, H, W, 3] float32 normalized RGB, NHWC, H and W multiples of `sizeDivisibility`; not disposed.
   * @returns logits [N, H, W, K] float32 at the input size (the graph's NCHW `logits` reordered); caller disposes.
   */
  async forwardAsync(images: tf.Tensor4D): Promise<tf.Tensor4D> {
    const logits = output(await runNhwc(this.session, images), 'logits');
    const [n, k, h, w] = logits.dims;
    if (k !== this.numClasses) throw new Error(`the ONNX segmentation model gives ${k} classes, the config ${this.numClasses}`);
    return tf.tensor4d(nchwToNhwc(logits.data, [n, k, h, w]), [n, h, w, k]);
  }

  /** Release the session. */
  dispose(): Promise<void> {
    return this.session.release();
  }
}

/** A ResNet feature extractor run by ONNX Runtime: `embed` as `ResNet.embed`, on the host. */
export class OnnxFeatureExtractor {
  private constructor(private readonly session: OnnxRuntimeModel) {}

  /** @param source the backbone (exported in memory) or a `features` file. */
  static async create(source: ResNet | OnnxFileInfo, opts: OnnxRuntimeOptions = {}): Promise<OnnxFeatureExtractor> {
    return new OnnxFeatureExtractor(await openSession('bytes' in source ? source : { kind: 'features', backbone: source }, opts));
  }

  /**
   * @param images [N, H, W, 3] float32 normalized RGB, NHWC; not disposed.
   * @returns the graph's `pooled` [N, C] (global average of the last level): values row-major and C.
   */
  async embed(images: tf.Tensor4D): Promise<{ data: Float32Array; dim: number }> {
    const pooled = output(await runNhwc(this.session, images), 'pooled');
    return { data: pooled.data, dim: pooled.dims[1] };
  }

  /** Release the session. */
  dispose(): Promise<void> {
    return this.session.release();
  }
}
