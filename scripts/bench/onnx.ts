/**
 * ONNX Runtime benchmark: a model through resvision's ONNX export in onnxruntime-node (CPU, `--threads` intra-op
 * threads, spinning off), through resvision's tfjs model on the selected backend (`--threads` threads), and through
 * torchvision (`/usr/bin/python3`, scripts/bench/onnx_torch.py, `--threads` threads, OMP_WAIT_POLICY=PASSIVE), in
 * one run. `--model` picks what is timed, each side doing the same work:
 *
 * - `resnet50` (default): ResNet-50 features (the pooled [N, 2048] embedding) at batch 1 and 8, `--size` 224.
 * - `retinanet`: RetinaNet-R50-FPN predict of one `--short` x round(4/3 short) image (512x683 by default, padded to
 *   multiples of 32 as the batch collate pads), post-processing included: ORT runs the head outputs and anchors of
 *   the export and the decoding, score threshold, top-k and NMS run in JavaScript (`OnnxRetinaNet`, what
 *   `--engine onnx` runs); tfjs runs `RetinaNet.predict`; torchvision runs `retinanet_resnet50_fpn` in eval mode
 *   (its transform, head, decoding and NMS). `--score-thresh` (0.05, torchvision's default) on all sides: random
 *   weights score about 0.01 (the classification prior), so 0.05 leaves the decoding and NMS almost nothing to do
 *   and 0.001 gives them full candidate sets (1000 per level).
 * - `deeplabv3`: DeepLabV3-R50 (output stride 8, K = 21, no aux) evaluation of a fixed batch of `--images` images
 *   of `--size` x `--size` (520 by default, torchvision's VOC evaluation size), one image per forward as `resvision
 *   eval` and torchvision's reference evaluation run them, the argmax and the confusion-matrix update included: ORT
 *   and tfjs through `inferSegmentation` (resvision's evaluation pass: logits at the input size, softmax, argmax)
 *   and `SegmentationEvaluator.update`; torchvision `deeplabv3_resnet50(...)(x)['out'].argmax(1)` and the bincount
 *   update of its references' `ConfusionMatrix`.
 *
 * Weights are random (a seeded initialization on our side, torch's default on the other): the two sides need not
 * hold the same weights for timing. ORT and tfjs run the same model (the export of the tfjs one), so the agreement
 * of their outputs is printed as a check. Also the export time and ORT's session start. Records `/proc/loadavg`
 * before and after (the machine may be shared). Prints one JSON object.
 *
 *   npx tsx scripts/bench/onnx.ts [--model resnet50|retinanet|deeplabv3] [--threads 1] [--repeats 3]
 *     [--size 224|520] [--short 512] [--score-thresh 0.05] [--images 2] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SegmentationEvaluator } from '../../datasets/voc/segmentation_evaluator';
import { retinanetResnet50Fpn } from '../../heads/detection/model';
import { inferSegmentation, type AsyncSegmentationPredictor, type SegmentationPredictor } from '../../heads/segmentation/inference';
import { deeplabv3Resnet50 } from '../../heads/segmentation/model';
import { resnet50 } from '../../src/backbone/resnet';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { OnnxRuntimeModel, nhwcToNchw } from '../../src/engine/onnx_runtime';
import { exportOnnx } from '../../src/export/onnx/export';
import { OnnxRetinaNet, OnnxSegmenter } from '../../src/export/onnx/task_models';
import { arg, medianMs, pad32 } from './common';

const MODELS = ['resnet50', 'retinanet', 'deeplabv3'] as const;
type BenchModel = (typeof MODELS)[number];

function loadavg(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return 'unavailable';
  }
}

/** onnx_torch.py `args` (the model first) with `threads` torch threads and a passive OpenMP pool; its JSON or `{ error }`. */
function torchReference(args: (string | number)[]): Record<string, unknown> {
  try {
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'onnx_torch.py'), ...args.map(String)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  } catch (e) {
    return { error: `reference unavailable: ${String((e as Error).message).split('\n')[0]}` };
  }
}

/** `medianMs` rounded to 0.1 ms. */
async function roundedMedianMs(fn: () => Promise<void>, warmup: number, repeats: number): Promise<number> {
  return Math.round((await medianMs(fn, warmup, repeats)) * 10) / 10;
}

/** What each benchmark returns: the three sides' records and the figures compared (same key on each side). */
interface BenchResult {
  head: Record<string, unknown>;
  onnxruntime: Record<string, unknown>;
  tfjs: Record<string, unknown>;
  torchvision: Record<string, unknown>;
  timed: string[];
  check: Record<string, unknown>;
}

async function resnet50Bench(threads: number, repeats: number): Promise<BenchResult> {
  const size = Number(arg('size', '224'));
  const net = resnet50();
  let t0 = performance.now();
  const exported = exportOnnx({ kind: 'features', backbone: net });
  const exportMs = performance.now() - t0;
  t0 = performance.now();
  const session = await OnnxRuntimeModel.create(exported.bytes, { threads });
  const sessionMs = performance.now() - t0;

  const ort: Record<string, number> = {};
  const tfjs: Record<string, number> = {};
  let maxRelDiff = 0;
  for (const n of [1, 8]) {
    const shape: [number, number, number, number] = [n, size, size, 3];
    const x = tf.randomNormal(shape, 0, 1, 'float32', n) as tf.Tensor4D;
    const nchw = nhwcToNchw(x.dataSync() as Float32Array, shape);
    let ortOut: Float32Array | undefined;
    ort[`features_b${n}_ms`] = await roundedMedianMs(
      async () => {
        ortOut = (await session.run(nchw, [n, 3, size, size])).pooled.data;
      },
      1,
      repeats,
    );
    let tfOut: Float32Array | undefined;
    tfjs[`features_b${n}_ms`] = await roundedMedianMs(
      async () => {
        const y = net.embed(x);
        tfOut = (await y.data()) as Float32Array;
        y.dispose();
      },
      1,
      repeats,
    );
    x.dispose();
    let m = 0;
    let s = 0;
    for (let i = 0; i < tfOut!.length; i++) {
      m = Math.max(m, Math.abs(ortOut![i] - tfOut![i]));
      s = Math.max(s, Math.abs(tfOut![i]));
    }
    maxRelDiff = Math.max(maxRelDiff, m / s);
  }
  await session.release();
  net.dispose();
  return {
    head: { model: 'resnet50 features (pooled)', size },
    onnxruntime: { exportMs: Math.round(exportMs), sessionMs: Math.round(sessionMs), ...ort },
    tfjs,
    torchvision: torchReference(['resnet50', size, repeats, threads]),
    timed: ['features_b1_ms', 'features_b8_ms'],
    check: { onnxruntimeVsTfjsMaxRelDiff: maxRelDiff },
  };
}

async function retinanetBench(threads: number, repeats: number): Promise<BenchResult> {
  const h = Number(arg('short', '512'));
  const w = Math.round((h * 4) / 3);
  const scoreThresh = Number(arg('score-thresh', '0.05'));
  const imageSizes = [{ height: h, width: w }];
  const model = retinanetResnet50Fpn({ numClasses: 91, postprocess: { scoreThresh } });
  let t0 = performance.now();
  const ort = await OnnxRetinaNet.create(model, undefined, { threads });
  const exportAndSessionMs = performance.now() - t0;
  const x = tf.randomNormal([1, pad32(h), pad32(w), 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  let ortCount = 0;
  const ortMs = await roundedMedianMs(
    async () => {
      ortCount = (await ort.predict({ images: x, imageSizes }))[0].scores.length;
    },
    1,
    repeats,
  );
  await ort.dispose();
  let tfCount = 0;
  const tfMs = await roundedMedianMs(
    async () => {
      tfCount = (await model.predict({ images: x, imageSizes }))[0].scores.length;
    },
    1,
    repeats,
  );
  x.dispose();
  model.dispose();
  return {
    head: { model: 'retinanet_resnet50_fpn predict (91 classes, post-processing included)', input: { height: h, width: w, padded: [pad32(h), pad32(w)] }, scoreThresh },
    onnxruntime: { exportAndSessionMs: Math.round(exportAndSessionMs), postprocess: 'JavaScript (OnnxRetinaNet, as --engine onnx)', predict_b1_ms: ortMs },
    tfjs: { predict_b1_ms: tfMs },
    torchvision: torchReference(['retinanet', h, w, scoreThresh, repeats, threads]),
    timed: ['predict_b1_ms'],
    check: { detections: { onnxruntime: ortCount, tfjs: tfCount } },
  };
}

/**
 * Evaluate `images` ([size, size] each) with `model` as `resvision eval` does: one pass per image, then the
 * confusion-matrix update against `gt`. @returns the predicted masks.
 */
async function evaluateBatch(
  model: SegmentationPredictor | AsyncSegmentationPredictor,
  images: readonly Float32Array[],
  gt: readonly Uint8Array[],
  size: number,
  evaluator: SegmentationEvaluator,
): Promise<Uint8Array[]> {
  const masks: Uint8Array[] = [];
  for (let i = 0; i < images.length; i++) {
    const { mask } = await inferSegmentation(model, { scaled: [{ data: images[i], height: size, width: size }], height: size, width: size, flip: false, slidingWindow: null });
    evaluator.update(gt[i], mask);
    masks.push(mask);
  }
  return masks;
}

async function deeplabv3Bench(threads: number, repeats: number): Promise<BenchResult> {
  const size = Number(arg('size', '520'));
  const n = Number(arg('images', '2'));
  const k = 21;
  const classes = Array.from({ length: k }, (_, c) => `class${c}`);
  const images = Array.from({ length: n }, (_, i) => tf.tidy(() => tf.randomNormal([size * size * 3], 0, 1, 'float32', 10 + i).dataSync() as Float32Array));
  const gt = Array.from({ length: n }, (_, i) => Uint8Array.from(tf.tidy(() => tf.randomUniform([size * size], 0, k, 'int32', 20 + i).dataSync())));
  const model = deeplabv3Resnet50({ numClasses: k });
  let t0 = performance.now();
  const ort = await OnnxSegmenter.create(model, undefined, { threads });
  const exportAndSessionMs = performance.now() - t0;
  // One untimed image per side: the first run of a session (or of tfjs kernels) allocates and plans.
  await evaluateBatch(ort, images.slice(0, 1), gt, size, new SegmentationEvaluator(classes));
  let ortMasks: Uint8Array[] = [];
  const ortMs = await roundedMedianMs(
    async () => {
      ortMasks = await evaluateBatch(ort, images, gt, size, new SegmentationEvaluator(classes));
    },
    0,
    repeats,
  );
  await ort.dispose();
  await evaluateBatch(model, images.slice(0, 1), gt, size, new SegmentationEvaluator(classes));
  let tfMasks: Uint8Array[] = [];
  const tfMs = await roundedMedianMs(
    async () => {
      tfMasks = await evaluateBatch(model, images, gt, size, new SegmentationEvaluator(classes));
    },
    0,
    repeats,
  );
  model.dispose();
  let agree = 0;
  ortMasks.forEach((m, i) => m.forEach((v, p) => (agree += v === tfMasks[i][p] ? 1 : 0)));
  return {
    head: { model: 'deeplabv3_resnet50 evaluation (output stride 8, 21 classes, no aux; argmax and confusion matrix included)', input: { images: n, height: size, width: size } },
    onnxruntime: { exportAndSessionMs: Math.round(exportAndSessionMs), eval_batch_ms: ortMs, eval_per_image_ms: Math.round(ortMs / n) },
    tfjs: { eval_batch_ms: tfMs, eval_per_image_ms: Math.round(tfMs / n) },
    torchvision: torchReference(['deeplabv3', size, n, repeats, threads]),
    timed: ['eval_batch_ms'],
    check: { onnxruntimeVsTfjsPixelAgreement: agree / (n * size * size) },
  };
}

async function main(): Promise<void> {
  const model = arg('model', 'resnet50') as BenchModel;
  if (!MODELS.includes(model)) throw new Error(`--model ${model}: expected one of ${MODELS.join(', ')}`);
  const repeats = Number(arg('repeats', model === 'deeplabv3' ? '2' : '3'));
  const threads = Number(arg('threads', '1'));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice, { threads });
  const loadBefore = loadavg();
  const bench = { resnet50: resnet50Bench, retinanet: retinanetBench, deeplabv3: deeplabv3Bench }[model];
  const r = await bench(threads, repeats);
  const loadAfter = loadavg();
  const ratio = (key: string): number | null => {
    const t = r.torchvision[key];
    const o = r.onnxruntime[key];
    return typeof t === 'number' && typeof o === 'number' ? Number((t / o).toFixed(2)) : null;
  };
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'onnx',
        ...r.head,
        repeats,
        weights: 'random on each side (not the same weights: timing only); ORT runs the export of the tfjs model',
        onnxruntime: { impl: 'resvision ONNX export + onnxruntime-node', threads, ...r.onnxruntime },
        tfjs: { impl: 'resvision tfjs', backend: backend.name, threads: backend.threads, ...r.tfjs },
        torchvision: r.torchvision,
        torchOverOnnxruntime: Object.fromEntries(r.timed.map((k) => [k.replace(/_ms$/, ''), ratio(k)])),
        ...r.check,
        loadavgBefore: loadBefore,
        loadavgAfter: loadAfter,
        cpus: os.cpus().length,
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
