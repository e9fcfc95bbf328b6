/**
 * Feature extraction: pooled embeddings (global average of the backbone's last level) for every image of a folder,
 * written as a `.npy` float32 matrix [N, C] plus a JSON index of the image files in row order.
 */
import * as tf from '@tensorflow/tfjs-core';
import fg from 'fast-glob';
import * as fs from 'fs';
import * as path from 'path';
import { IMG_EXTENSIONS } from '../../datasets/image_folder';
import { DataLoader } from '../../datasets/loader';
import { classificationEvalTransform } from '../../datasets/pipeline';
import type { ClassificationSample } from '../../datasets/types';
import { buildBackbone, ResNet } from '../backbone/resnet';
import { writeFileAtomicSync } from '../common/atomic_write';
import { stderrLog, type LogSink } from '../common/log';
import { encodeNpyFloat32 } from '../engine/npy';
import { startTaskProgress } from '../engine/task_progress';
import { loadTorchvisionWeights } from '../weights/torchvision';
import { OnnxFeatureExtractor, readOnnxFile, type InferenceEngine, type OnnxFileInfo } from '../export/onnx/task_models';

/** Options of `extractFeatures`. */
export interface ExtractFeaturesOptions {
  /** Where the note about tensors that did not fit goes (non-strict loads). Default stderr. */
  log?: LogSink;
  /** Backbone name (torchvision's), e.g. `resnet50`. */
  model: string;
  /** torchvision/timm weights (.safetensors or .pth); the classifier `fc`, if present, is ignored. Null: random. */
  weights: string | null;
  /** Folder searched recursively for images. */
  images: string;
  /** Output `.npy` path; the index goes next to it as `<out without .npy>.json`. */
  out: string;
  /** Shorter side before the center crop, default 256; crop side, default 224 (torchvision's eval preset). */
  resizeSize?: number;
  cropSize?: number;
  batchSize?: number;
  /** Require every backbone tensor in the weights file (default true); false lists what did not fit on stderr. */
  strict?: boolean;
  quiet?: boolean;
  /** What runs the backbone: tfjs (default), or ONNX Runtime (`onnx`: the backbone with its weights exported in memory). */
  engine?: InferenceEngine;
  /**
   * Instead of `weights`: a feature extractor written by `resvision export CHECKPOINT --features`, run by ONNX
   * Runtime; the backbone named in its metadata must be `model`.
   */
  onnx?: string;
}

/** What `extractFeatures` wrote. */
export interface FeaturesResult {
  npyFile: string;
  indexFile: string;
  count: number;
  dim: number;
}

/**
 * Compute pooled embeddings [N, C] float32 for every image under `opts.images` and write them.
 * @throws Error when the folder is missing or has no image, the weights do not fit the model, or an image cannot be
 *   decoded (naming the file).
 */
export async function extractFeatures(opts: ExtractFeaturesOptions): Promise<FeaturesResult> {
  if (!fs.existsSync(opts.images) || !fs.statSync(opts.images).isDirectory()) {
    throw new Error(`images folder not found: ${opts.images}`);
  }
  const files = (await fg('**/*', { cwd: opts.images, absolute: true, onlyFiles: true, caseSensitiveMatch: false }))
    .filter((f) => IMG_EXTENSIONS.includes(path.extname(f).toLowerCase()))
    .sort();
  if (files.length === 0) throw new Error(`no image (${IMG_EXTENSIONS.join(', ')}) found under ${opts.images}`);
  let onnxFile: OnnxFileInfo | undefined;
  if (opts.onnx !== undefined) {
    onnxFile = readOnnxFile(opts.onnx, ['features']);
    const stored = (onnxFile.config.model as { backbone?: { name?: string } } | undefined)?.backbone?.name;
    if (stored !== opts.model) throw new Error(`${opts.onnx}: a ${stored ?? 'unknown'} feature extractor, but --model is ${opts.model}`);
  }
  const backbone: ResNet = buildBackbone(opts.model);
  let ort: OnnxFeatureExtractor | undefined;
  try {
    if (opts.weights && !onnxFile) {
      if (!fs.existsSync(opts.weights)) throw new Error(`weights file not found: ${opts.weights}`);
      const report = await loadTorchvisionWeights(backbone, opts.weights, { strict: opts.strict ?? true });
      const problems = [...report.missing.map((n) => `missing ${n}`), ...report.unexpected.map((n) => `unexpected ${n}`),
        ...report.shapeMismatched.map((m) => `shape ${m.name} file [${m.fileShape}] model [${m.modelShape}]`)];
      if (problems.length > 0) (opts.log ?? stderrLog)(`${opts.weights}: ${problems.length} tensors did not fit: ${problems.slice(0, 10).join('; ')}`);
    }
    const transform = classificationEvalTransform({ resizeSize: opts.resizeSize ?? 256, cropSize: opts.cropSize ?? 224 });
    const loader = new DataLoader<ClassificationSample<Float32Array>, { images: tf.Tensor4D; count: number }>(
      { length: files.length, get: (i, rng) => transform({ file: files[i], label: 0 }, rng) },
      {
        batchSize: opts.batchSize ?? 8,
        shuffle: false,
        collate: (samples) => {
          const { height: h, width: w } = samples[0].image;
          const data = new Float32Array(samples.length * h * w * 3);
          samples.forEach((s, i) => data.set(s.image.data, i * h * w * 3));
          return { images: tf.tensor4d(data, [samples.length, h, w, 3]), count: samples.length };
        },
      },
    );
    if (onnxFile) ort = await OnnxFeatureExtractor.create(onnxFile);
    else if (opts.engine === 'onnx') ort = await OnnxFeatureExtractor.create(backbone);
    const dim = backbone.outChannels;
    const all = new Float32Array(files.length * dim);
    const progress = startTaskProgress('features', files.length, { quiet: opts.quiet, unit: 'images' });
    let done = 0;
    for await (const batch of loader.epoch(0)) {
      try {
        if (ort) {
          const emb = await ort.embed(batch.images);
          if (emb.dim !== dim) throw new Error(`${opts.onnx}: embeddings of ${emb.dim} channels, ${opts.model} has ${dim}`);
          all.set(emb.data, done * dim);
        } else {
          const emb = backbone.embed(batch.images);
          all.set(await emb.data(), done * dim);
          emb.dispose();
        }
      } finally {
        batch.images.dispose();
      }
      done += batch.count;
      progress.update(done);
    }
    progress.stop();
    const npyFile = opts.out.endsWith('.npy') ? opts.out : `${opts.out}.npy`;
    const indexFile = `${npyFile.slice(0, -4)}.json`;
    writeFileAtomicSync(npyFile, encodeNpyFloat32(all, [files.length, dim]));
    writeFileAtomicSync(
      indexFile,
      `${JSON.stringify(
        {
          model: opts.model,
          weights: onnxFile ? null : opts.weights,
          ...(onnxFile ? { onnx: opts.onnx } : {}),
          ...(ort ? { engine: 'onnx' } : {}),
          images: path.resolve(opts.images),
          shape: [files.length, dim],
          dtype: 'float32',
          transform: {
            resizeSize: opts.resizeSize ?? 256,
            cropSize: opts.cropSize ?? 224,
            interpolation: 'bilinear (Pillow-exact, antialiased)',
            normalize: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
          },
          files: files.map((f) => path.relative(opts.images, f)),
        },
        null,
        2,
      )}\n`,
    );
    return { npyFile, indexFile, count: files.length, dim };
  } finally {
    backbone.dispose();
    await ort?.dispose();
  }
}
