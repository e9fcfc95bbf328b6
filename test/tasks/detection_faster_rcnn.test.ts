/**
 * Faster R-CNN through the detection task, as a user runs it: `resvision train` of a config with `model.arch`
 * "faster_rcnn" (a few iterations of a small ResNet-18 FPN Faster R-CNN on the three BCCD fixture images, three
 * classes) writes checkpoints and `metrics.jsonl` with the four loss terms; `eval` prints pycocotools' 12 lines and VOC
 * AP; `predict --out` draws and writes `detections.json`; `--resume` ends bit for bit where the uninterrupted run ends;
 * `export-weights` writes torchvision's names, which load back as initial weights (the box predictor re-initialized for
 * another class count); ONNX export and a RetinaNet config on a Faster R-CNN checkpoint are refused clearly.
 *
 * Learning (AP50 >= 0.9 on these images) is tested at the head level (test/heads/detection/faster_rcnn_learning.test.ts);
 * here the model is trained only a few steps, so the tests check the paths and the numbers they must preserve, not
 * accuracy. The config is configs/detection/faster_rcnn_r18_fpn_bccd.json with the fixture as data, shorter side 96
 * (128x96 inputs) and 4 iterations of batch 3.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { FasterRCNN } from '../../heads/detection/faster_rcnn';
import { validateConfig } from '../../src/config/load';
import type { FasterRCNNConfig } from '../../src/config/types';
import { loadCheckpoint, restoreModel } from '../../src/engine/checkpoint';
import { readJsonl } from '../../src/engine/logger';
import { explainDetectionOutOfMemory, isFasterRCNNConfig, loadDetectorInitialWeights, buildDetector } from '../../src/tasks/detection';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { exportTorchvisionWeights } from '../../src/weights/torchvision';
import { runCli } from '../helpers/cli';
import { expectRejects } from '../helpers/errors';
import { expectSameState, stateBits } from '../helpers/state';

const REPO = path.resolve(__dirname, '../..');
const BCCD = path.join(REPO, 'test/fixtures/bccd/BCCD');
const CLASSES = ['RBC', 'WBC', 'Platelets'];
const ITERS = 4;
const ckptName = (it: number) => `model_${String(it).padStart(7, '0')}.safetensors`;

/** A checkpoint's model tensors by name, as stored. */
async function tensorsOf(file: string): Promise<Map<string, Float32Array>> {
  const ck = await loadCheckpoint(file);
  try {
    const out = new Map<string, Float32Array>();
    for (const k of ck.modelKeys()) {
      const t = await ck.readTensor(k);
      out.set(k, (await t.data()) as Float32Array);
      t.dispose();
    }
    return out;
  } finally {
    await ck.close();
  }
}

/** The fixture as a VOC root: its three images listed in `ImageSets/Main/all.txt`. */
function bccdRoot(dir: string): string {
  const root = path.join(dir, 'BCCD');
  fs.mkdirSync(path.join(root, 'ImageSets', 'Main'), { recursive: true });
  for (const sub of ['Annotations', 'JPEGImages']) fs.symlinkSync(path.join(BCCD, sub), path.join(root, sub));
  fs.writeFileSync(path.join(root, 'ImageSets', 'Main', 'all.txt'), 'BloodImage_00147\nBloodImage_00249\nBloodImage_00338\n');
  return root;
}

/** The bundled BCCD Faster R-CNN config on the fixture, sized to run in seconds. */
function smallConfig(root: string, outputDir: string): FasterRCNNConfig {
  const cfg = JSON.parse(fs.readFileSync(path.join(REPO, 'configs/detection/faster_rcnn_r18_fpn_bccd.json'), 'utf8'));
  cfg.data = {
    format: 'voc', root, trainSplit: 'all', valSplit: 'all', annotationsDir: 'Annotations', imagesDir: 'JPEGImages', imageExt: '.jpg',
    use07Metric: false, classes: CLASSES, trainShortEdge: [96], trainMaxSize: 1000, evalShortEdge: 96, evalMaxSize: 1000,
    flipProbability: 0.5, filterEmpty: false,
  };
  cfg.optimizer = { ...cfg.optimizer, baseLr: 0.01, baseBatchSize: 3 };
  cfg.schedule = { maxIter: ITERS, warmup: { iters: 2, factor: 0.1, method: 'linear' }, main: { kind: 'constant' } };
  cfg.train = { seed: 3, batchSize: 3, numWorkers: 1, logEvery: 1, evalEvery: ITERS, checkpointEvery: 2, outputDir };
  const valid = validateConfig(cfg, 'faster_rcnn_small.json');
  if (valid.task !== 'detection' || !isFasterRCNNConfig(valid)) throw new Error('expected a Faster R-CNN config');
  return valid;
}

describe('detection task: Faster R-CNN (CLI)', function () {
  this.timeout(600_000);
  let dir: string;
  let root: string;
  let cfgFile: string;
  let ckpt: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-frcnn-'));
    root = bccdRoot(dir);
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(smallConfig(root, path.join(dir, 'run'))));
    ckpt = path.join(dir, 'run', ckptName(ITERS));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`train: ${ITERS} iterations write checkpoints, the four loss terms and a final COCO evaluation; tensor count flat`, async () => {
    const before = tf.memory().numTensors;
    const out = await runCli(['train', cfgFile, '--quiet']);
    expect(tf.memory().numTensors).to.equal(before);
    expect(out.split('\n').filter((l) => l.startsWith(' Average'))).to.have.length(12);
    expect(out).to.match(new RegExp(`done: ${ITERS} iterations`));
    expect(fs.readdirSync(path.join(dir, 'run')).filter((f) => f.endsWith('.safetensors')).sort()).to.deep.equal([ckptName(2), ckptName(4)]);
    const records = readJsonl(path.join(dir, 'run', 'metrics.jsonl'));
    const train = records.filter((r) => r.type === 'train');
    expect(train.map((r) => r.iteration)).to.deep.equal([0, 1, 2, 3]);
    for (const r of train) {
      const losses = r.losses as Record<string, number>;
      // torchvision's loss_objectness, loss_rpn_box_reg, loss_classifier, loss_box_reg.
      expect(Object.keys(losses).sort()).to.deep.equal(['boxRegression', 'classification', 'rpnBoxRegression', 'rpnObjectness']);
      for (const v of Object.values(losses)) expect(Number.isFinite(v) && v >= 0, JSON.stringify(losses)).to.equal(true);
      // The logged total is the sum of the terms (float32 sums: a few ulps).
      expect(r.totalLoss as number).to.be.closeTo(Object.values(losses).reduce((a, b) => a + b, 0), 1e-5);
    }
    // Classification starts near ln(K + 1) = ln 4 (the predictor's initial logits are near 0).
    expect((train[0].losses as Record<string, number>).classification).to.be.closeTo(Math.log(4), 0.3);
    const ev = records.filter((r) => r.type === 'eval');
    expect(ev.map((r) => r.iteration)).to.deep.equal([ITERS - 1]);
    const c = await loadCheckpoint(ckpt);
    try {
      expect(c.architecture).to.equal('faster_rcnn resnet18 fpn');
      const stored = (c.meta as { config: { model: { arch: string }; classes: string[]; categoryIds: number[] } }).config;
      expect([stored.model.arch, stored.classes, stored.categoryIds]).to.deep.equal(['faster_rcnn', CLASSES, [1, 2, 3]]);
    } finally {
      await c.close();
    }
  });

  it('eval --out: 12 COCO lines, per-class and VOC AP for the 3 classes; results in original pixels with category ids 1..3', async () => {
    const outDir = path.join(dir, 'eval');
    const out = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--out', outDir, '--quiet']);
    const lines = out.split('\n').filter((l) => l.startsWith(' Average'));
    expect(lines).to.have.length(12);
    expect(out).to.match(/\nclass +COCO AP % +VOC AP50 %\nRBC +[\d.]+ +[\d.]+\nWBC +[\d.]+ +[\d.]+\nPlatelets +[\d.]+ +[\d.]+\nVOC mAP@0\.5 \(3 classes\): [\d.]+%/);
    // The evaluation after the last training step is the same computation on the same weights.
    const logged = readJsonl(path.join(dir, 'run', 'metrics.jsonl')).filter((r) => r.type === 'eval').pop()!.metrics as Record<string, number>;
    expect(lines[0]).to.contain(`= ${(logged.AP / 100).toFixed(3)}`);
    const results = JSON.parse(fs.readFileSync(path.join(outDir, 'results_all.json'), 'utf8'));
    for (const r of results) {
      expect([1, 2, 3]).to.include(r.category_id);
      expect([1, 2, 3]).to.include(r.image_id);
      expect(r.bbox[0]).to.be.at.least(0);
      expect(r.bbox[0] + r.bbox[2]).to.be.at.most(640 + 1e-3);
      expect(r.bbox[1] + r.bbox[3]).to.be.at.most(480 + 1e-3);
      // The box branch's score threshold (0.05, exclusive).
      expect(r.score).to.be.greaterThan(0.05);
    }
    const again = await runCli(['eval-coco', path.join(outDir, 'gt_all_coco.json'), path.join(outDir, 'results_all.json'), '--iou-type', 'bbox']);
    expect(again.trimEnd().split('\n')).to.deep.equal(lines);
  });

  it('predict --out: draws the picture and writes detections.json in original pixels, ordered by score', async () => {
    const outDir = path.join(dir, 'pred');
    const img = path.join(BCCD, 'JPEGImages', 'BloodImage_00249.jpg');
    const text = await runCli(['predict', cfgFile, img, '--checkpoint', ckpt, '--out', outDir, '--score-thresh', '0']);
    expect(text).to.contain(`${img}: `);
    const dets = JSON.parse(fs.readFileSync(path.join(outDir, 'detections.json'), 'utf8'));
    expect(dets).to.have.length(1);
    expect(dets[0]).to.include({ file: img, width: 640, height: 480, output: path.join(outDir, 'BloodImage_00249.jpg') });
    const boxes = dets[0].detections as { className: string; label: number; categoryId: number; score: number; boxXyxy: number[] }[];
    // After 4 steps the box branch already keeps some RoIs above its 0.05 threshold (the predict threshold is 0 here).
    expect(boxes.length).to.be.greaterThan(0);
    expect(boxes.length).to.be.at.most(100);
    for (let i = 0; i < boxes.length; i++) {
      const b = boxes[i];
      expect(b.className).to.equal(CLASSES[b.label]);
      expect(b.categoryId).to.equal(b.label + 1);
      if (i > 0) expect(b.score).to.be.at.most(boxes[i - 1].score);
      expect(b.boxXyxy[0]).to.be.at.least(0);
      expect(b.boxXyxy[2]).to.be.at.most(640 + 1e-3);
      expect(b.boxXyxy[3]).to.be.at.most(480 + 1e-3);
      expect(b.boxXyxy[2]).to.be.greaterThan(b.boxXyxy[0]);
    }
    const meta = await sharp(path.join(outDir, 'BloodImage_00249.jpg')).metadata();
    expect([meta.format, meta.width, meta.height]).to.deep.equal(['jpeg', 640, 480]);
  });

  it('--resume from iteration 2 ends with the same weights, bit for bit, as the uninterrupted run', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.train.outputDir = path.join(dir, 'resumed');
    cfg.train.evalEvery = 0;
    const cfg2 = path.join(dir, 'cfg_resumed.json');
    fs.writeFileSync(cfg2, JSON.stringify(cfg));
    await runCli(['train', cfg2, '--quiet', '--resume', path.join(dir, 'run', ckptName(2))]);
    const a = await tensorsOf(ckpt);
    const b = await tensorsOf(path.join(dir, 'resumed', ckptName(ITERS)));
    expect([...b.keys()]).to.deep.equal([...a.keys()]);
    expect([...a.keys()].filter((k) => !Buffer.from(b.get(k)!.buffer).equals(Buffer.from(a.get(k)!.buffer)))).to.deep.equal([]);
  });

  it('export-weights writes torchvision names; they load back as initial weights, the box predictor re-initialized for K = 1', async () => {
    const out = path.join(dir, 'fasterrcnn.safetensors');
    await runCli(['export-weights', ckpt, '--out', out]);
    const file = await SafetensorsFile.open(out);
    try {
      // torch's layouts: Linear [out, in], Conv2d OIHW.
      expect(file.info('roi_heads.box_predictor.cls_score.weight').shape).to.deep.equal([4, 256]);
      expect(file.info('roi_heads.box_predictor.bbox_pred.weight').shape).to.deep.equal([16, 256]);
      expect(file.info('rpn.head.cls_logits.weight').shape).to.deep.equal([3, 64, 1, 1]);
      expect(file.info('backbone.fpn.inner_blocks.0.0.weight').shape).to.deep.equal([64, 64, 1, 1]);
    } finally {
      await file.close();
    }
    const cfg = smallConfig(root, path.join(dir, 'unused'));
    const trained = buildDetector(cfg, 3);
    const fresh = buildDetector(cfg, 1);
    const finetune = buildDetector(cfg, 1);
    const notes: string[] = [];
    try {
      const ck = await loadCheckpoint(ckpt);
      try {
        await restoreModel(trained, ck, { strict: true });
      } finally {
        await ck.close();
      }
      await loadDetectorInitialWeights(finetune, out, (s) => notes.push(s));
      expect(notes.join('\n')).to.match(/roi_heads\.box_predictor\.cls_score\.weight, .*not loaded \(absent, or another number of classes\)/);
      const [t, f, l] = [stateBits(trained), stateBits(fresh), stateBits(finetune)];
      const predictor = (n: string) => n.startsWith('roi_heads.box_predictor.');
      const pick = (m: Map<string, Buffer>, keep: (n: string) => boolean) => new Map([...m].filter(([n]) => keep(n)));
      // Everything outside the predictor is the trained model's; the predictor keeps its initialization.
      expectSameState(pick(l, (n) => !predictor(n)), pick(t, (n) => !predictor(n)));
      expectSameState(pick(l, predictor), pick(f, predictor));
      // ImageNet-style weights (a ResNet state dict, `conv1.weight`, `layer1.*`) go into the backbone body only.
      const body = path.join(dir, 'resnet18.safetensors');
      await exportTorchvisionWeights(trained.backbone.body, body);
      const fromBody = buildDetector(cfg, 1);
      try {
        await loadDetectorInitialWeights(fromBody, body, () => undefined);
        const b = stateBits(fromBody);
        expectSameState(pick(b, (n) => n.startsWith('backbone.body.')), pick(t, (n) => n.startsWith('backbone.body.')));
        expectSameState(pick(b, (n) => !n.startsWith('backbone.body.')), pick(f, (n) => !n.startsWith('backbone.body.')));
      } finally {
        fromBody.dispose();
      }
    } finally {
      [trained, fresh, finetune].forEach((m) => m.dispose());
    }
  });

  it('refused clearly: ONNX export, a RetinaNet config on this checkpoint, RetinaNet weights as initial weights', async () => {
    await expectRejects(
      runCli(['export', ckpt, '--out', path.join(dir, 'x.onnx')]),
      /ONNX export of Faster R-CNN checkpoints is not supported \(proposal selection and RoIAlign run outside the exported graph\); export its weights for torchvision with `resvision export-weights/,
    );
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).to.equal(false);
    const retina = JSON.parse(fs.readFileSync(path.join(REPO, 'configs/detection/retinanet_r18_fpn_bccd_quickstart.json'), 'utf8'));
    retina.data = JSON.parse(fs.readFileSync(cfgFile, 'utf8')).data;
    const retinaFile = path.join(dir, 'retina.json');
    fs.writeFileSync(retinaFile, JSON.stringify(retina));
    await expectRejects(
      runCli(['eval', retinaFile, '--checkpoint', ckpt, '--quiet']),
      /model_0000004\.safetensors: a Faster R-CNN checkpoint \(model\.arch "faster_rcnn"\), but the config builds RetinaNet \(model\.arch "retinanet"\)/,
    );
    // A RetinaNet state dict (here a RetinaNet's weights in torchvision names) does not fit a Faster R-CNN.
    const cfg = smallConfig(root, path.join(dir, 'unused'));
    const retinaCfg = validateConfig(retina, 'retina.json');
    if (retinaCfg.task !== 'detection' || isFasterRCNNConfig(retinaCfg)) throw new Error('expected a RetinaNet config');
    const r = buildDetector(retinaCfg, 3);
    const m = buildDetector(cfg, 3);
    try {
      const file = path.join(dir, 'retinanet.safetensors');
      await exportTorchvisionWeights(r, file);
      await expectRejects(loadDetectorInitialWeights(m, file, () => undefined), /retinanet\.safetensors: weights do not fit Faster R-CNN: missing, unexpected or mismatched .*(rpn\.head|head\.)/);
    } finally {
      r.dispose();
      m.dispose();
    }
  });

  it('out of memory: the one-line message names Faster R-CNN and the settings to lower', () => {
    const cfg = smallConfig(root, path.join(dir, 'unused'));
    const msg = (explainDetectionOutOfMemory(new RangeError('Array buffer allocation failed'), cfg) as Error).message;
    expect(msg).to.equal(
      'out of memory in Faster R-CNN resnet18 (the wasm heap is limited to 4 GB): lower train.batchSize (now 3) or ' +
        'data.trainShortEdge / data.trainMaxSize (now [96] / 1000)',
    );
    expect(buildDetector(cfg, 2)).to.satisfy((m: FasterRCNN) => {
      const ok = m instanceof FasterRCNN;
      m.dispose();
      return ok;
    });
  });
});
