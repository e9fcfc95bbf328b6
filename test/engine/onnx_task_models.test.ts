/**
 * `--engine onnx` and `--onnx FILE`: `predict`, `eval` and `features` with the model run by ONNX Runtime give what
 * the tfjs path gives, for a small classification, RetinaNet and DeepLabV3 checkpoint (hash-initialized weights,
 * src/weights/hash_init.ts, so that activations stay in range) on small images.
 *
 * Tolerance 1e-4 absolute on probabilities and scores, 1e-3 px on boxes in network-input pixels: float32 accumulation
 * order differs between tfjs and ORT (test/export/onnx.test.ts measures 1e-7..3e-6 relative on the raw outputs); a
 * wrong layout or post-processing gives errors of order 1. Evaluation tables print 3 decimals (COCO) or 2 (mIoU),
 * and must be equal as printed.
 *
 * Without onnxruntime-node (an optional dependency) the runtime suite is skipped, saying so; the missing-runtime
 * error is checked with an importer that fails as a missing module does.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { validateConfig } from '../../src/config/load';
import { saveCheckpoint } from '../../src/engine/checkpoint';
import { hasOnnxRuntime, setOnnxRuntimeImporter } from '../../src/engine/onnx_runtime';
import { decodeNpyFloat32 } from '../../src/engine/npy';
import type { Module } from '../../src/nn/module';
import { buildClassifier } from '../../src/tasks/classification';
import { buildDetector } from '../../src/tasks/detection';
import { buildSegmentationModel } from '../../src/tasks/segmentation';
import { encodePaletteMask } from '../../src/tasks/overlay';
import { hashStateBytes } from '../../src/weights/hash_init';
import { writeSafetensors } from '../../src/weights/safetensors';
import { loadTorchvisionWeights, torchStateSpec, type WeightFamily } from '../../src/weights/torchvision';
import { buildBackbone } from '../../src/backbone/resnet';
import { runCli, runCliCapture } from '../helpers/cli';
import { seededFloats } from '../helpers/tensors';

const ROOT = path.resolve(__dirname, '..', '..');
const BCCD = path.resolve(__dirname, '../fixtures/bccd/BCCD');

/** Fill `model` with the hash values of its torchvision state names. */
async function hashWeights(model: Module, family: WeightFamily, dir: string): Promise<void> {
  const file = path.join(dir, `hash_${family}.safetensors`);
  const spec = torchStateSpec(model, { family });
  await writeSafetensors(file, spec.map(({ name, shape, dtype }) => ({ name, dtype, shape, data: () => hashStateBytes(name, shape) })));
  const r = await loadTorchvisionWeights(model, file, { family });
  expect(r.missing).to.deep.equal([]);
}

/** A seeded RGB PNG of `h x w`. */
async function writeImage(file: string, h: number, w: number, seed: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const px = Uint8Array.from(seededFloats(h * w * 3, seed), (v) => Math.round((v + 1) * 127.5) & 255);
  await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 3 } }).png().toFile(file);
}

function readConfig(rel: string, edit: (c: Record<string, any>) => void): Record<string, unknown> {
  const raw = JSON.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));
  edit(raw);
  return raw;
}

interface Box {
  className: string;
  score: number;
  boxXyxy: number[];
}

/**
 * Every tfjs detection scoring clearly above the lowest kept score (near the cut, a 1e-6 difference may swap which
 * of two candidates survives top-k or NMS) has an ONNX Runtime twin: same class, score within 1e-4, box within
 * 5e-3 original pixels (1e-3 px of the 128-px network input, scaled by 5 back to the 640x480 image).
 * @returns the number matched.
 */
function matchDetections(ref: Box[], got: Box[]): number {
  const cut = Math.min(...ref.map((d) => d.score)) + 1e-3;
  let n = 0;
  for (const d of ref.filter((r) => r.score > cut)) {
    const twin = got.find((g) => g.className === d.className && Math.abs(g.score - d.score) <= 1e-4 && g.boxXyxy.every((v, i) => Math.abs(v - d.boxXyxy[i]) <= 5e-3));
    expect(twin, `no ONNX Runtime detection for ${JSON.stringify(d)}`).to.not.equal(undefined);
    n++;
  }
  return n;
}

describe('--engine onnx: predict, eval and features through ONNX Runtime equal the tfjs path', function () {
  this.timeout(600_000);
  let dir: string;
  const files = {
    cls: { cfg: '', ckpt: '', onnx: '' },
    det: { cfg: '', ckpt: '', onnx: '' },
    seg: { cfg: '', ckpt: '', onnx: '' },
  };

  before(async function () {
    if (!(await hasOnnxRuntime())) {
      console.log('    (skipped: onnxruntime-node is not installed; `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`)');
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-onnx-engine-'));
    // Classification: an ImageFolder of two classes, 2 images each; eval resize 40, crop 32.
    const classes = ['ants', 'bees'];
    for (const [c, name] of classes.entries()) for (const i of [0, 1]) await writeImage(path.join(dir, 'cls', 'val', name, `${i}.png`), 44 + 4 * i, 52, 10 * c + i);
    const cls = validateConfig(readConfig('configs/classification/resnet18_hymenoptera.json', (c) => {
      c.data = { ...c.data, root: path.join(dir, 'cls'), valSplit: 'val', evalResizeSize: 40, evalCropSize: 32 };
      c.train = { ...c.train, batchSize: 2, numWorkers: 1 };
    }), 'cls');
    if (cls.task !== 'classification') throw new Error('expected a classification config');
    const classifier = buildClassifier(cls, 2);
    await hashWeights(classifier, 'resnet', dir);
    files.cls = { cfg: path.join(dir, 'cls.json'), ckpt: path.join(dir, 'cls.safetensors'), onnx: path.join(dir, 'cls.onnx') };
    fs.writeFileSync(files.cls.cfg, JSON.stringify(cls));
    await saveCheckpoint(files.cls.ckpt, { model: classifier, meta: { kind: 'resvision.train', config: { ...cls, classes } } });
    classifier.dispose();

    // Detection: the quickstart RetinaNet (ResNet-18, FPN 64) on the three BCCD fixture images at short edge 128.
    const det = validateConfig(readConfig('configs/detection/retinanet_r18_fpn_bccd_quickstart.json', (c) => {
      c.data = { ...c.data, root: BCCD, valSplit: 'trainval', evalShortEdge: 128 };
      c.train = { ...c.train, batchSize: 2, numWorkers: 1 };
    }), 'det');
    if (det.task !== 'detection') throw new Error('expected a detection config');
    const detector = buildDetector(det, 1);
    await hashWeights(detector, 'retinanet', dir);
    files.det = { cfg: path.join(dir, 'det.json'), ckpt: path.join(dir, 'det.safetensors'), onnx: path.join(dir, 'det.onnx') };
    fs.writeFileSync(files.det.cfg, JSON.stringify(det));
    await saveCheckpoint(files.det.ckpt, { model: detector, meta: { kind: 'resvision.train', config: { ...det, classes: ['WBC'], categoryIds: [1] } } });
    detector.dispose();

    // Segmentation: DeepLabV3 on a ResNet-50 (torchvision's BasicBlock refuses dilation) at output stride 16, 3
    // classes, two 40x48 and 44x36 images with masks.
    const segRoot = path.join(dir, 'seg');
    for (const [i, [h, w]] of [[40, 48], [44, 36]].entries()) {
      await writeImage(path.join(segRoot, 'JPEGImages', `im${i}.png`), h, w, 50 + i);
      const mask = Uint8Array.from(seededFloats(h * w, 60 + i), (v) => (v > 0.5 ? 255 : Math.floor((v + 1) * 1.5) % 3));
      fs.mkdirSync(path.join(segRoot, 'SegmentationClass'), { recursive: true });
      fs.writeFileSync(path.join(segRoot, 'SegmentationClass', `im${i}.png`), encodePaletteMask(mask, h, w));
    }
    fs.mkdirSync(path.join(segRoot, 'ImageSets', 'Segmentation'), { recursive: true });
    fs.writeFileSync(path.join(segRoot, 'ImageSets', 'Segmentation', 'val.txt'), 'im0\nim1\n');
    const seg = validateConfig(readConfig('configs/segmentation/deeplabv3_r50_d8.json', (c) => {
      c.model = { ...c.model, numClasses: 3, aux: false, outputStride: 16, head: { type: 'deeplabv3', atrousRates: [2, 3, 4] } };
      c.data = { ...c.data, root: segRoot, imageExt: '.png', classNames: ['background', 'a', 'b'], evalShortEdge: 40 };
      c.eval = { scales: [1, 0.75], flip: true, slidingWindow: null };
      c.train = { ...c.train, batchSize: 2, numWorkers: 1 };
    }), 'seg');
    if (seg.task !== 'segmentation') throw new Error('expected a segmentation config');
    const segmenter = buildSegmentationModel(seg, { aux: false });
    await hashWeights(segmenter, 'deeplabv3', dir);
    files.seg = { cfg: path.join(dir, 'seg.json'), ckpt: path.join(dir, 'seg.safetensors'), onnx: path.join(dir, 'seg.onnx') };
    fs.writeFileSync(files.seg.cfg, JSON.stringify(seg));
    await saveCheckpoint(files.seg.ckpt, { model: segmenter, meta: { kind: 'resvision.train', config: { ...seg, classes: ['background', 'a', 'b'] } } });
    segmenter.dispose();

    for (const f of Object.values(files)) await runCli(['export', f.ckpt, '--out', f.onnx]);
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('classification: predict --json probabilities equal within 1e-4, same classes; eval prints the same table', async () => {
    const images = path.join(dir, 'cls', 'val');
    const ref = JSON.parse(await runCli(['predict', files.cls.ckpt, images, '--json']));
    const tensors = tf.memory().numTensors;
    for (const args of [[files.cls.ckpt, images, '--engine', 'onnx'], [files.cls.onnx, images], [files.cls.cfg, images, '--onnx', files.cls.onnx]]) {
      const got = JSON.parse(await runCli(['predict', ...args, '--json']));
      expect(got.map((p: { file: string }) => p.file)).to.deep.equal(ref.map((p: { file: string }) => p.file));
      got.forEach((p: { top: { className: string; probability: number }[] }, i: number) => {
        expect(p.top.map((t) => t.className), args.join(' ')).to.deep.equal(ref[i].top.map((t: { className: string }) => t.className));
        p.top.forEach((t, j) => expect(Math.abs(t.probability - ref[i].top[j].probability)).to.be.at.most(1e-4));
      });
    }
    expect(tf.memory().numTensors).to.equal(tensors);
    const table = await runCli(['eval', files.cls.cfg, '--checkpoint', files.cls.ckpt, '--quiet']);
    expect(table).to.match(/top-1/i);
    expect(await runCli(['eval', files.cls.cfg, '--checkpoint', files.cls.ckpt, '--engine', 'onnx', '--quiet'])).to.equal(table);
    expect(await runCli(['eval', files.cls.cfg, '--onnx', files.cls.onnx, '--quiet'])).to.equal(table);
    // the run says that ONNX Runtime computes, before the tfjs backend line (which does pre- and post-processing)
    const { stdout, stderr } = await runCliCapture(['eval', files.cls.cfg, '--checkpoint', files.cls.ckpt, '--engine', 'onnx']);
    expect(stdout).to.equal(table);
    expect(stderr).to.match(/^engine: ONNX Runtime \(onnxruntime-node \d+\.\d+\.\d+, CPU, 1 thread\) runs the model; the backend below does the pre- and post-processing\nbackend: /m);
  });

  it('RetinaNet: predict --json boxes and scores equal (1e-3 input px, 1e-4), the same classes and category ids; eval prints the same COCO table', async () => {
    const image = path.join(BCCD, 'JPEGImages', 'BloodImage_00147.jpg');
    const ref = JSON.parse(await runCli(['predict', files.det.ckpt, image, '--json', '--score-thresh', '0']))[0];
    expect(ref.detections.length).to.be.greaterThan(10);
    for (const args of [[files.det.ckpt, image, '--engine', 'onnx'], [files.det.onnx, image]]) {
      const got = JSON.parse(await runCli(['predict', ...args, '--json', '--score-thresh', '0']))[0];
      expect(got.detections.length, args.join(' ')).to.equal(ref.detections.length);
      expect(new Set(got.detections.map((d: { categoryId: number }) => d.categoryId))).to.deep.equal(new Set([1]));
      expect(matchDetections(ref.detections, got.detections)).to.be.greaterThan(10);
    }
    const table = await runCli(['eval', files.det.cfg, '--checkpoint', files.det.ckpt, '--quiet']);
    expect(table).to.match(/Average Precision/);
    expect(await runCli(['eval', files.det.cfg, '--checkpoint', files.det.ckpt, '--engine', 'onnx', '--quiet'])).to.equal(table);
    expect(await runCli(['eval', files.det.cfg, '--onnx', files.det.onnx, '--quiet'])).to.equal(table);
  });

  it('DeepLabV3 (two scales, flip): predict --json class shares equal within 1e-4; eval prints the same mIoU table', async () => {
    const images = path.join(dir, 'seg', 'JPEGImages');
    const ref = JSON.parse(await runCli(['predict', files.seg.ckpt, images, '--json']));
    for (const args of [[files.seg.ckpt, images, '--engine', 'onnx'], [files.seg.onnx, images]]) {
      const got = JSON.parse(await runCli(['predict', ...args, '--json']));
      got.forEach((p: { classes: { className: string; fraction: number }[] }, i: number) => {
        expect(p.classes.map((c) => c.className).sort()).to.deep.equal(ref[i].classes.map((c: { className: string }) => c.className).sort());
        p.classes.forEach((c) => {
          const twin = ref[i].classes.find((r: { className: string }) => r.className === c.className);
          expect(Math.abs(c.fraction - twin.fraction)).to.be.at.most(1e-4);
        });
      });
    }
    const table = await runCli(['eval', files.seg.cfg, '--checkpoint', files.seg.ckpt, '--quiet']);
    expect(table).to.match(/mIoU/);
    expect(await runCli(['eval', files.seg.cfg, '--checkpoint', files.seg.ckpt, '--engine', 'onnx', '--quiet'])).to.equal(table);
    expect(await runCli(['eval', files.seg.cfg, '--onnx', files.seg.onnx, '--quiet'])).to.equal(table);
  });

  it('features --engine onnx and --onnx: the embeddings of the tfjs backbone within 1e-4 relative', async () => {
    const weights = path.join(dir, 'r18.safetensors');
    const backbone = buildBackbone('resnet18');
    await hashWeights(backbone, 'resnet', dir);
    const spec = torchStateSpec(backbone, { family: 'resnet' });
    await writeSafetensors(weights, spec.map(({ name, shape, dtype }) => ({ name, dtype, shape, data: () => hashStateBytes(name, shape) })));
    backbone.dispose();
    const common = ['features', '--model', 'resnet18', '--images', path.join(dir, 'cls', 'val'), '--resize', '40', '--crop', '32', '--batch-size', '3', '--quiet'];
    await runCli([...common, '--weights', weights, '--out', path.join(dir, 'tfjs.npy')]);
    await runCli([...common, '--weights', weights, '--engine', 'onnx', '--out', path.join(dir, 'ort.npy')]);
    const fx = path.join(dir, 'features.onnx');
    await runCli(['export', files.cls.ckpt, '--features', '--out', fx]);
    const ref = decodeNpyFloat32(fs.readFileSync(path.join(dir, 'tfjs.npy')));
    const got = decodeNpyFloat32(fs.readFileSync(path.join(dir, 'ort.npy')));
    expect(got.shape).to.deep.equal([4, 512]);
    const scale = Math.max(...Array.from(ref.data as Float32Array, Math.abs));
    expect(scale).to.be.greaterThan(0);
    got.data.forEach((v, i) => expect(Math.abs(v - ref.data[i]) / scale).to.be.at.most(1e-4));
    // The classifier checkpoint's hash weights are the same torchvision names: its exported backbone gives the same.
    await runCli([...common, '--onnx', fx, '--out', path.join(dir, 'file.npy')]);
    const fromFile = decodeNpyFloat32(fs.readFileSync(path.join(dir, 'file.npy')));
    fromFile.data.forEach((v, i) => expect(Math.abs(v - ref.data[i]) / scale).to.be.at.most(1e-4));
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'file.json'), 'utf8'))).to.include({ onnx: fx, engine: 'onnx', weights: null });
  });

  it('--engine onnx on a Faster R-CNN config is one clear error', async () => {
    let err: Error | undefined;
    try {
      await runCli(['eval', path.join(ROOT, 'configs/detection/faster_rcnn_r18_fpn_bccd.json'), '--checkpoint', files.det.ckpt, '--engine', 'onnx', '--quiet']);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/^--engine onnx runs RetinaNet detectors only: Faster R-CNN has no ONNX export/);
  });
});

describe('--engine onnx without onnxruntime-node', () => {
  afterEach(() => setOnnxRuntimeImporter(undefined));

  it('predict, eval and features fail at once with one line saying how to install it', async () => {
    setOnnxRuntimeImporter(() => Promise.reject(new Error("Cannot find module 'onnxruntime-node'\nRequire stack:\n- x.js")));
    const cfg = path.join(ROOT, 'configs/classification/resnet18_hymenoptera.json');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-no-ort-'));
    const [ckpt, onnx] = [path.join(dir, 'm.safetensors'), path.join(dir, 'm.onnx')];
    fs.writeFileSync(ckpt, '');
    fs.writeFileSync(onnx, '');
    await writeImage(path.join(dir, 'x.png'), 8, 8, 1);
    for (const args of [
      ['predict', cfg, path.join(dir, 'x.png'), '--checkpoint', ckpt, '--engine', 'onnx'],
      ['eval', cfg, '--onnx', onnx],
      ['features', '--model', 'resnet18', '--images', '.', '--out', path.join(os.tmpdir(), 'never.npy'), '--engine', 'onnx'],
    ]) {
      let err: Error | undefined;
      try {
        await runCli(args);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message, args.join(' ')).to.equal(
        "onnxruntime-node is not installed (Cannot find module 'onnxruntime-node'); install it with " +
          '`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node` (the variable skips its CUDA download)',
      );
    }
    expect(fs.existsSync(path.join(os.tmpdir(), 'never.npy'))).to.equal(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
