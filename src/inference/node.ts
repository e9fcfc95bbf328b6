/**
 * The inference API in Node (exported by `resvision`): the portable loaders (`./index.ts`) plus checkpoint and
 * weight files by path, and images given as a file path or as encoded bytes (a `Buffer` of a JPEG, PNG, WebP ...),
 * decoded with the data pipeline's decoder (`decodeImage`: EXIF orientation applied, 8-bit sRGB), the one
 * `resvision predict` reads files with.
 */
import { promises as fs } from 'fs';
import { decodeImage, probeImageBytes } from '../../datasets/pipeline/decode';
import type { RgbImage } from '../../datasets/types';
import { BACKBONE_LEVELS } from '../backbone/features';
import { buildBackbone } from '../backbone/resnet';
import { RESVISION_CHECKPOINT_FORMAT } from '../weights/model_weights';
import { SafetensorsBuffer } from '../weights/safetensors_bytes';
import { loadTorchvisionWeights } from '../weights/torchvision';
import { openCheckpointBytes, openCheckpointSource, type CheckpointLoadOptions, type CheckpointSource, type OpenedCheckpoint } from './checkpoint_source';
import { classifierFromCheckpoint, type Classifier } from './classifier';
import { detectorFromCheckpoint, type Detector } from './detector';
import { FeatureExtractor, loadBackboneWeights, type FeatureExtractorOptions } from './feature_extractor';
import { toRgbImage, type ImageInput } from './image_input';
import { segmenterFromCheckpoint, type Segmenter } from './segmenter';

/** An image in Node: any {@link ImageInput}, a file path, or an encoded image file's bytes. */
export type NodeImageInput = ImageInput | string | Uint8Array;

/** A checkpoint in Node: any {@link CheckpointSource}; a string is a file path unless it is an http(s) URL. */
export type NodeCheckpointSource = CheckpointSource;

const URL_RE = /^(https?|data|blob):/i;

/**
 * The pixels of an image input in Node: a path or encoded bytes decoded like `resvision predict` decodes files,
 * anything else as {@link toRgbImage}.
 * @returns [H, W, 3] uint8 RGB, HWC (new buffer).
 * @throws ImageDecodeError naming the file (or `buffer`) when it cannot be read or decoded; ImageInputError for
 *   other inputs that are not images.
 */
export async function decodeNodeImage(input: NodeImageInput): Promise<RgbImage<Uint8Array>> {
  if (typeof input === 'string') return (await decodeImage(input)).image;
  if (input instanceof Uint8Array) {
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    return (await decodeImage(await probeImageBytes(bytes, 'buffer'))).image;
  }
  return toRgbImage(input);
}

/**
 * Read a checkpoint's metadata: a path read from disk, anything else as `openCheckpointSource`.
 * @throws Error naming the file when it does not exist or is not a resvision checkpoint.
 */
export async function openNodeCheckpoint(source: NodeCheckpointSource, opts: CheckpointLoadOptions = {}): Promise<OpenedCheckpoint> {
  if (typeof source !== 'string' || URL_RE.test(source)) return openCheckpointSource(source, opts);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(source);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(code === 'ENOENT' ? `checkpoint not found: ${source}` : `${source}: cannot read the checkpoint (${(e as Error).message})`);
  }
  return openCheckpointBytes(bytes, source);
}

/**
 * Load a detector trained by `resvision train` (see the portable `loadDetector`); `source` may be a file path, and
 * `detect` also takes image paths and encoded bytes.
 */
export async function loadDetector(source: NodeCheckpointSource, opts: CheckpointLoadOptions = {}): Promise<Detector<NodeImageInput>> {
  return detectorFromCheckpoint(await openNodeCheckpoint(source, opts), decodeNodeImage);
}

/**
 * Load a segmentation model trained by `resvision train` (see the portable `loadSegmenter`); `source` may be a file
 * path, and `segment` also takes image paths and encoded bytes.
 */
export async function loadSegmenter(source: NodeCheckpointSource, opts: CheckpointLoadOptions = {}): Promise<Segmenter<NodeImageInput>> {
  return segmenterFromCheckpoint(await openNodeCheckpoint(source, opts), decodeNodeImage);
}

/**
 * Load a classifier trained by `resvision train` (see the portable `loadClassifier`); `source` may be a file path,
 * and `classify` also takes image paths and encoded bytes.
 */
export async function loadClassifier(source: NodeCheckpointSource, opts: CheckpointLoadOptions = {}): Promise<Classifier<NodeImageInput>> {
  return classifierFromCheckpoint(await openNodeCheckpoint(source, opts), decodeNodeImage);
}

/**
 * A feature extractor on the torchvision ResNet `name` (see the portable `loadFeatureExtractor`). `opts.weights` may
 * also be a path: a resvision checkpoint (a classifier's `fc.*` ignored) or torchvision/timm weights (.pth,
 * .safetensors; every backbone tensor required, `fc.*` ignored). `extract` also takes image paths and bytes.
 * @throws Error for an unknown name or level, a missing file, or weights that do not fit (naming the file).
 */
export async function loadFeatureExtractor(name: string, opts: FeatureExtractorOptions = {}): Promise<FeatureExtractor<NodeImageInput>> {
  const backbone = buildBackbone(name, { outLevels: opts.outLevels ?? [...BACKBONE_LEVELS] });
  try {
    const w = opts.weights;
    if (typeof w === 'string' && !URL_RE.test(w)) {
      const bytes = await fs.readFile(w).catch((e: { code?: string; message: string }) => {
        throw new Error(e.code === 'ENOENT' ? `weights file not found: ${w}` : `${w}: cannot read the weights (${e.message})`);
      });
      let ours = false;
      try {
        ours = SafetensorsBuffer.parse(bytes, w).metadata.format === RESVISION_CHECKPOINT_FORMAT;
      } catch {
        // Not safetensors (a torch.save archive): torchvision's loader reads it.
      }
      if (ours) await loadBackboneWeights(backbone, bytes, w);
      else await loadTorchvisionWeights(backbone, w, { strict: true });
    } else if (w !== undefined) await loadBackboneWeights(backbone, w);
  } catch (e) {
    backbone.dispose();
    throw e;
  }
  return new FeatureExtractor(backbone, decodeNodeImage, opts);
}
