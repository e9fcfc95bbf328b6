/**
 * The segmentation task end to end through the CLI, on two real photographs (the CC BY 2.0 COCO val2017 images of
 * test/fixtures/coco_images, masks rasterized from their COCO polygons with the mask API): FCN-ResNet-50 overfits
 * them (mIoU at the original size), `eval --out` writes palette PNGs that `eval-seg` scores identically, `--resume`
 * continues bit for bit (dropout seeded by the step), `predict` writes masks and overlays. Inference (sliding window,
 * flip, mapping back to the original size) and CamVid-style data are checked with a per-pixel stand-in model whose
 * output is known in closed form. A small Semantic FPN runs the same commands for a few iterations (train, eval,
 * predict, resume, export-weights, ONNX export); its learning is tested at the head level
 * (test/heads/segmentation/semantic_fpn.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encode } from 'fast-png';
import sharp from 'sharp';
import { Coco } from '../../datasets/coco/coco';
import { rleDecode } from '../../datasets/coco/mask_api';
import type { CocoDatasetJson } from '../../datasets/coco/types';
import { normalizeImage } from '../../datasets/pipeline/normalize';
import { decodeRgbPng, readLabelMask, vocColormap } from '../../datasets/pipeline/png_index';
import { SegmentationConfusion } from '../../datasets/voc/miou';
import type { SegmentationModel } from '../../heads/segmentation/model';
import { runCli } from '../helpers/cli';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { readJsonl } from '../../src/engine/logger';
import type { SegmentationConfig } from '../../src/config/types';
import { loadConfig, validateConfig } from '../../src/config/load';
import { SgdOptimizer } from '../../src/engine/optimizer';
import { isOutOfMemoryError } from '../../src/engine/trainer';
import { encodePaletteMask, LEGEND_BACKGROUND, overlayMask, writeOverlay } from '../../src/tasks/overlay';
import {
  AUX_LR_MULT,
  buildSegmentationModel,
  evaluateSegmentationRecords,
  loadSegmentationCheckpoint,
  explainOutOfMemory,
  overlayFileName,
  scanSegmentationSplit,
  segmentationLegend,
  segmentationParamGroups,
  segmentImage,
  trainSegmentation,
} from '../../src/tasks/segmentation';
import { expectNoLeak, seededFloats } from '../helpers/tensors';
import { loadTorchvisionWeights } from '../../src/weights/torchvision';
import { OnnxRuntimeModel, hasOnnxRuntime, nhwcToNchw } from '../../src/engine/onnx_runtime';

const FIXTURE = path.resolve(__dirname, '../fixtures/coco_images');
const CONFIG = path.resolve(__dirname, '../../configs/segmentation/fcn_r50_os16_cocotiny.json');
const SEMANTIC_FPN_CONFIG = path.resolve(__dirname, '../../configs/segmentation/semantic_fpn_r50_voc_seg.json');
const CLASSES = ['background', 'stop sign', 'toilet'];
/** COCO category id → our class index. */
const COCO_TO_CLASS: Record<number, number> = { 13: 1, 70: 2 };


/**
 * A VOC-layout tree from the two fixture photographs: for each, the square window of twice the object's larger box
 * side centred on its box (clipped to the image), as a PNG, and its mask rasterized from the COCO polygon
 * (pycocotools `annToMask` semantics) as a palette PNG. Both images are in train.txt and val.txt.
 */
async function makeVocTree(root: string): Promise<string[]> {
  const coco = new Coco(JSON.parse(fs.readFileSync(path.join(FIXTURE, 'instances_val2017_subset.json'), 'utf8')) as CocoDatasetJson, 'fixture');
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) fs.mkdirSync(path.join(root, d), { recursive: true });
  const ids: string[] = [];
  for (const [id, img] of coco.imgs) {
    const anns = coco.imgToAnns.get(id) ?? [];
    expect(anns).to.have.length(1);
    const ann = anns[0];
    const [bx, by, bw, bh] = ann.bbox!;
    const side = Math.round(2 * Math.max(bw, bh));
    const left = Math.max(0, Math.min(img.width - side, Math.round(bx + bw / 2 - side / 2)));
    const top = Math.max(0, Math.min(img.height - side, Math.round(by + bh / 2 - side / 2)));
    const full = rleDecode(coco.annToRle(ann)); // column-major [W * H]
    const mask = new Uint8Array(side * side);
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) mask[y * side + x] = full[(left + x) * img.height + top + y] ? COCO_TO_CLASS[ann.category_id] : 0;
    const name = String(id).padStart(12, '0');
    await sharp(path.join(FIXTURE, 'val2017', img.file_name!)).extract({ left, top, width: side, height: side }).png().toFile(path.join(root, 'JPEGImages', `${name}.png`));
    fs.writeFileSync(path.join(root, 'SegmentationClass', `${name}.png`), encodePaletteMask(mask, side, side));
    ids.push(name);
  }
  for (const s of ['train', 'val']) fs.writeFileSync(path.join(root, 'ImageSets/Segmentation', `${s}.txt`), `${ids.join('\n')}\n`);
  return ids;
}

async function tensorsOf(file: string): Promise<Map<string, Uint8Array>> {
  const ck = await loadCheckpoint(file);
  try {
    const out = new Map<string, Uint8Array>();
    for (const k of ck.modelKeys()) {
      const t = await ck.readTensor(k);
      const v = await t.data();
      out.set(k, new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
      t.dispose();
    }
    return out;
  } finally {
    await ck.close();
  }
}

/** The numbers of a `formatSegmentationMetrics` table (class names dropped). */
function tableNumbers(text: string): string[] {
  const start = text.indexOf('class ');
  return text
    .slice(start)
    .split('\n')
    .filter((l) => /\d/.test(l) && !l.startsWith('wrote '))
    .map((l) => l.replace(/^\S+( \S+)*? {2,}/, '').trim());
}

describe('segmentation task (CLI) on two real photographs', function () {
  this.timeout(600_000);
  let dir: string;
  let cfgFile: string;
  let ids: string[];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-seg-'));
    ids = await makeVocTree(path.join(dir, 'voc'));
    const cfg = JSON.parse(fs.readFileSync(CONFIG, 'utf8')) as SegmentationConfig;
    // Output stride 16 with the stem and layer1..layer3 frozen: what trains is layer4 and the FCN head (its
    // dropout is on). 96 px squares, no flip: the two crops are the whole data.
    cfg.model = { ...cfg.model, numClasses: 3, backbone: { ...cfg.model.backbone, frozenStages: 3 } };
    cfg.data = {
      ...cfg.data, root: path.join(dir, 'voc'), imageExt: '.png', classNames: CLASSES,
      trainShortEdge: { min: 96, max: 96 }, trainCropSize: 96, flipProbability: 0, evalShortEdge: 96,
    };
    cfg.optimizer = { ...cfg.optimizer, baseLr: 0.05, baseBatchSize: 2 };
    cfg.schedule = { maxIter: 40, main: { kind: 'poly', power: 0.9 } };
    cfg.train = { seed: 5, batchSize: 2, numWorkers: 2, logEvery: 1, evalEvery: 40, checkpointEvery: 19, outputDir: path.join(dir, 'run') };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('train overfits them: mIoU >= 0.8 at the original image size, with checkpoints and a JSONL log', async () => {
    const before = tf.memory().numTensors;
    const out = await runCli(['train', cfgFile, '--quiet']);
    expect(tf.memory().numTensors).to.equal(before);
    expect(out).to.match(/done: 40 iterations/);
    const run = path.join(dir, 'run');
    expect(fs.readdirSync(run).filter((f) => f.endsWith('.safetensors')).sort()).to.deep.equal([
      'model_0000019.safetensors', 'model_0000038.safetensors', 'model_0000040.safetensors',
    ]);
    const records = readJsonl(path.join(run, 'metrics.jsonl'));
    const train = records.filter((r) => r.type === 'train');
    expect(train.map((r) => r.iteration)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i));
    expect(Object.keys(train[0].losses as object)).to.deep.equal(['segmentation']);
    const evals = records.filter((r) => r.type === 'eval');
    expect(evals).to.have.length(1);
    const m = evals[0].metrics as { mIoUPercent: number };
    expect(m.mIoUPercent).to.be.at.least(80);
    expect(out).to.contain(`mIoU ${m.mIoUPercent.toFixed(2)}`);
    expect(out).to.match(/^stop sign +\d/m);
  });

  it('eval --out reproduces the logged table, and eval-seg scores the written PNGs identically', async () => {
    const ckpt = path.join(dir, 'run', 'model_0000040.safetensors');
    const predDir = path.join(dir, 'pred');
    const out = await runCli(['eval', cfgFile, '--checkpoint', ckpt, '--out', predDir, '--quiet']);
    const logged = readJsonl(path.join(dir, 'run', 'metrics.jsonl')).filter((r) => r.type === 'eval').pop()!;
    expect(out).to.contain(`mIoU ${(logged.metrics as { mIoUPercent: number }).mIoUPercent.toFixed(2)}`);
    expect(fs.readdirSync(predDir).sort()).to.deep.equal(ids.map((i) => `${i}.png`).sort());
    for (const id of ids) {
      const [gt, pred] = await Promise.all([
        readLabelMask(path.join(dir, 'voc', 'SegmentationClass', `${id}.png`)),
        readLabelMask(path.join(predDir, `${id}.png`)),
      ]);
      expect([pred.source, pred.height, pred.width]).to.deep.equal(['palette', gt.height, gt.width]);
    }
    const seg = await runCli([
      'eval-seg', '--gt', path.join(dir, 'voc', 'SegmentationClass'), '--pred', predDir,
      '--list', path.join(dir, 'voc', 'ImageSets', 'Segmentation', 'val.txt'), '--num-classes', '3',
    ]);
    expect(out.trimEnd().split('\n').at(-1)).to.equal(`wrote ${ids.length} prediction PNGs (VOC palette, class indices) to ${predDir}`);
    expect(tableNumbers(seg)).to.deep.equal(tableNumbers(out));
    // 3 class rows, the means, and how many classes the means average.
    expect(tableNumbers(out)).to.have.length(5);
  });

  it('export-weights writes torchvision fcn_resnet50 names that load back (strict) to the same logits', async () => {
    const ckpt = path.join(dir, 'run', 'model_0000040.safetensors');
    const exported = path.join(dir, 'exported.safetensors');
    await runCli(['export-weights', ckpt, '--format', 'torchvision', '--out', exported]);
    const cfg = loadConfig(cfgFile) as SegmentationConfig;
    const { model } = await loadSegmentationCheckpoint(cfg, ckpt);
    const fresh = buildSegmentationModel({ ...cfg, train: { ...cfg.train, seed: 99 } });
    const report = await loadTorchvisionWeights(fresh, exported, { strict: true, family: 'fcn' });
    expect(report.loaded).to.include.members(['backbone.conv1.weight', 'backbone.layer4.2.bn3.running_var', 'classifier.4.weight', 'classifier.4.bias']);
    const x = tf.tensor4d(seededFloats(1 * 64 * 64 * 3, 13), [1, 64, 64, 3]);
    const [ya, yb] = [model.forward(x, { training: false }), fresh.forward(x, { training: false })];
    expect(Array.from(await yb.logits.data())).to.deep.equal(Array.from(await ya.logits.data()));
    tf.dispose([x, ya.logits, yb.logits]);
    model.dispose();
    fresh.dispose();
  });

  it('--resume from iteration 38 ends with the same weights, bit for bit, as the uninterrupted run', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.train.outputDir = path.join(dir, 'resumed');
    const cfg2 = path.join(dir, 'cfg_resumed.json');
    fs.writeFileSync(cfg2, JSON.stringify(cfg));
    await runCli(['train', cfg2, '--quiet', '--resume', path.join(dir, 'run', 'model_0000038.safetensors')]);
    const a = await tensorsOf(path.join(dir, 'run', 'model_0000040.safetensors'));
    const b = await tensorsOf(path.join(dir, 'resumed', 'model_0000040.safetensors'));
    expect([...b.keys()]).to.deep.equal([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.from(b.get(k)!).equals(Buffer.from(v)), k).to.equal(true);
  });

  it('predict writes a palette mask at the original size and an overlay, and lists the classes present', async () => {
    const img = path.join(dir, 'voc', 'JPEGImages', `${ids[0]}.png`);
    const outDir = path.join(dir, 'predict');
    const res = JSON.parse(await runCli(['predict', cfgFile, img, '--checkpoint', path.join(dir, 'run', 'model_0000040.safetensors'), '--out', outDir, '--json']));
    expect(res).to.have.length(1);
    const p = res[0];
    const meta = await sharp(img).metadata();
    expect([p.width, p.height]).to.deep.equal([meta.width, meta.height]);
    const fractions = (p.classes as { fraction: number }[]).map((c) => c.fraction);
    expect(fractions.reduce((s, v) => s + v, 0)).to.be.closeTo(1, 1e-12);
    const mask = await readLabelMask(p.maskFile);
    expect([mask.width, mask.height]).to.deep.equal([meta.width, meta.height]);
    const gt = await readLabelMask(path.join(dir, 'voc', 'SegmentationClass', `${ids[0]}.png`));
    // The prediction's classes are those of its ground truth (the model overfit this image).
    expect((p.classes as { className: string }[]).map((c) => c.className).sort()).to.deep.equal(
      [...new Set(gt.mask)].map((k) => CLASSES[k]).sort(),
    );
    // A PNG input gets a PNG overlay.
    expect(p.overlayFile).to.equal(path.join(outDir, `${ids[0]}_overlay.png`));
    const overlay = await sharp(p.overlayFile).metadata();
    expect(overlay.format).to.equal('png');
    expect(overlay.width).to.equal(meta.width);
    expect(overlay.height!).to.be.greaterThan(meta.height!); // legend strip below the picture
  });

  it('train --no-eval: the final checkpoint is written and no evaluation runs', async () => {
    const out = await runCli(['train', cfgFile, '--quiet', '--no-eval', '--max-iter', '2', '--output-dir', path.join(dir, 'noeval')]);
    expect(out).to.not.match(/mIoU/);
    expect(out).to.match(/done: 2 iterations/);
    const records = readJsonl(path.join(dir, 'noeval', 'metrics.jsonl'));
    expect(records.map((r) => r.type)).to.deep.equal(['train', 'train', 'checkpoint']);
    expect(records[2]).to.deep.include({ file: 'model_0000002.safetensors', reason: 'final' });
  });

  it('train.evalAtEnd false: periodic evaluations run, the one after the last step does not; the schema checks the key', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.train = { ...cfg.train, evalEvery: 1, evalAtEnd: false, outputDir: path.join(dir, 'noend') };
    const file = path.join(dir, 'cfg_noend.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    await runCli(['train', file, '--quiet', '--max-iter', '2']);
    const records = readJsonl(path.join(dir, 'noend', 'metrics.jsonl'));
    expect(records.map((r) => `${r.type}@${r.iteration}`)).to.deep.equal(['train@0', 'eval@0', 'train@1', 'checkpoint@1']);
    expect(() => validateConfig({ ...cfg, train: { ...cfg.train, evalAtEnd: 'no' } }, 'x.json')).to.throw(/\/train\/evalAtEnd: must be boolean/);
    expect(() => validateConfig({ ...cfg, description: 3 }, 'x.json')).to.throw(/\/description: must be string/);
  });

  it('DeepLabV3 refuses batch size 1 in training (one value per channel in its image-pooling BatchNorm)', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as SegmentationConfig;
    cfg.model.head = { type: 'deeplabv3', atrousRates: null };
    cfg.train.batchSize = 1;
    let err: Error | undefined;
    await trainSegmentation(cfg, { quiet: true }).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/train.batchSize is 1: deeplabv3_resnet50 needs at least 2 images per batch/);
  });
});

describe('Semantic FPN (ResNet-18) through the CLI on the same two photographs', function () {
  this.timeout(600_000);
  let dir: string;
  let cfgFile: string;
  let ids: string[];
  const run = () => path.join(dir, 'run');
  const ckpt = (it: number) => path.join(run(), `model_${String(it).padStart(7, '0')}.safetensors`);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-semfpn-'));
    ids = await makeVocTree(path.join(dir, 'voc'));
    const cfg = loadConfig(SEMANTIC_FPN_CONFIG) as SegmentationConfig;
    // A small Semantic FPN (ResNet-18, FPN 64, head 32 with GroupNorm(8)); 96 px squares (a multiple of 32), no flip.
    cfg.model = {
      ...cfg.model, numClasses: 3, backbone: { ...cfg.model.backbone, name: 'resnet18' },
      head: { type: 'semantic_fpn', fpnChannels: 64, convDims: 32, numGroups: 8 },
    };
    cfg.data = {
      ...cfg.data, root: path.join(dir, 'voc'), imageExt: '.png', classNames: CLASSES,
      trainShortEdge: { min: 96, max: 96 }, trainCropSize: 96, flipProbability: 0, evalShortEdge: 96,
    };
    cfg.schedule = { maxIter: 4, main: { kind: 'poly', power: 0.9 } };
    cfg.train = { seed: 3, batchSize: 2, numWorkers: 2, logEvery: 1, evalEvery: 4, checkpointEvery: 2, outputDir: run() };
    cfgFile = path.join(dir, 'cfg.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('train: 4 iterations with checkpoints, a JSONL log with the one loss and the mIoU evaluation; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const out = await runCli(['train', cfgFile, '--quiet']);
    expect(tf.memory().numTensors).to.equal(before);
    expect(out).to.match(/done: 4 iterations/);
    expect(fs.readdirSync(run()).filter((f) => f.endsWith('.safetensors')).sort()).to.deep.equal(['model_0000002.safetensors', 'model_0000004.safetensors']);
    const records = readJsonl(path.join(run(), 'metrics.jsonl'));
    const train = records.filter((r) => r.type === 'train');
    expect(train.map((r) => r.iteration)).to.deep.equal([0, 1, 2, 3]);
    expect(Object.keys(train[0].losses as object)).to.deep.equal(['segmentation']);
    for (const r of train) expect(Number.isFinite((r.losses as { segmentation: number }).segmentation)).to.equal(true);
    const evals = records.filter((r) => r.type === 'eval');
    expect(evals).to.have.length(1);
    const m = evals[0].metrics as { mIoUPercent: number };
    expect(out).to.contain(`mIoU ${m.mIoUPercent.toFixed(2)}`);
    const ck = await loadCheckpoint(ckpt(4));
    try {
      const keys = ck.modelKeys();
      expect(keys).to.include.members(['backbone.body.conv1.weight', 'backbone.fpn.layer_blocks.3.0.weight', 'sem_seg_head.p5.4.norm.bias', 'sem_seg_head.predictor.weight']);
      expect(keys.some((k) => k.startsWith('aux_classifier.'))).to.equal(false);
    } finally {
      await ck.close();
    }
  });

  it('every parameter steps with the learning rate (no auxiliary head to boost)', () => {
    const cfg = loadConfig(cfgFile) as SegmentationConfig;
    const model = buildSegmentationModel(cfg);
    try {
      const opt = new SgdOptimizer(segmentationParamGroups(model, cfg), { lr: 0.01 });
      expect(opt.parameterNames()).to.have.length(model.trainableParameters().length);
      expect(opt.parameterNames().filter((n) => opt.lrMultOf(n) !== 1)).to.deep.equal([]);
      expect(opt.parameterNames()).to.include('sem_seg_head.p2.0.norm.weight');
      opt.dispose();
    } finally {
      model.dispose();
    }
  });

  it('eval prints the mIoU table of the logged evaluation and writes the prediction PNGs', async () => {
    const predDir = path.join(dir, 'pred');
    const out = await runCli(['eval', cfgFile, '--checkpoint', ckpt(4), '--out', predDir, '--quiet']);
    const logged = readJsonl(path.join(run(), 'metrics.jsonl')).filter((r) => r.type === 'eval').pop()!;
    expect(out).to.contain(`mIoU ${(logged.metrics as { mIoUPercent: number }).mIoUPercent.toFixed(2)}`);
    expect(out).to.match(/^stop sign +\d/m);
    expect(tableNumbers(out)).to.have.length(5);
    expect(fs.readdirSync(predDir).sort()).to.deep.equal(ids.map((i) => `${i}.png`).sort());
  });

  it('predict --out writes a palette mask at the original size and an overlay with its legend', async () => {
    const img = path.join(dir, 'voc', 'JPEGImages', `${ids[1]}.png`);
    const outDir = path.join(dir, 'predict');
    const res = JSON.parse(await runCli(['predict', cfgFile, img, '--checkpoint', ckpt(4), '--out', outDir, '--json']));
    expect(res).to.have.length(1);
    const p = res[0];
    const meta = await sharp(img).metadata();
    expect([p.width, p.height]).to.deep.equal([meta.width, meta.height]);
    expect((p.classes as { fraction: number }[]).reduce((sum, c) => sum + c.fraction, 0)).to.be.closeTo(1, 1e-12);
    const mask = await readLabelMask(p.maskFile);
    expect([mask.source, mask.width, mask.height]).to.deep.equal(['palette', meta.width, meta.height]);
    expect(p.overlayFile).to.equal(path.join(outDir, `${ids[1]}_overlay.png`));
    const overlay = await sharp(p.overlayFile).metadata();
    expect(overlay.width).to.equal(meta.width);
    expect(overlay.height!).to.be.greaterThan(meta.height!);
  });

  it('--resume from iteration 2 ends with the same weights, bit for bit, as the uninterrupted run', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.train.outputDir = path.join(dir, 'resumed');
    const cfg2 = path.join(dir, 'cfg_resumed.json');
    fs.writeFileSync(cfg2, JSON.stringify(cfg));
    await runCli(['train', cfg2, '--quiet', '--resume', ckpt(2)]);
    const a = await tensorsOf(ckpt(4));
    const b = await tensorsOf(path.join(dir, 'resumed', 'model_0000004.safetensors'));
    expect([...b.keys()]).to.deep.equal([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.from(b.get(k)!).equals(Buffer.from(v)), k).to.equal(true);
  });

  it('a checkpoint of another architecture is refused naming both', async () => {
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as SegmentationConfig;
    const fcn = { ...cfg, model: { ...cfg.model, head: { type: 'fcn' as const }, outputStride: 16 as const } };
    let err: Error | undefined;
    await loadSegmentationCheckpoint(fcn, ckpt(4)).catch((e: Error) => (err = e));
    expect(err?.message).to.contain('checkpoint of semantic_fpn_resnet18 with 3 classes; the config asks for fcn_resnet18 with model.numClasses 3');
  });

  it('export-weights writes the resvision state names (backbone.body, backbone.fpn, sem_seg_head), which load back to the same logits', async () => {
    const exported = path.join(dir, 'exported.safetensors');
    await runCli(['export-weights', ckpt(4), '--format', 'torchvision', '--out', exported]);
    const cfg = loadConfig(cfgFile) as SegmentationConfig;
    const { model } = await loadSegmentationCheckpoint(cfg, ckpt(4));
    const fresh = buildSegmentationModel({ ...cfg, train: { ...cfg.train, seed: 99 } });
    const report = await loadTorchvisionWeights(fresh, exported, { strict: true });
    expect(report.loaded).to.include.members(['backbone.body.layer4.1.bn2.running_var', 'backbone.fpn.inner_blocks.0.0.weight', 'sem_seg_head.p3.0.norm.weight', 'sem_seg_head.predictor.bias']);
    const x = tf.tensor4d(seededFloats(1 * 64 * 64 * 3, 13), [1, 64, 64, 3]);
    const [ya, yb] = [model.forward(x, { training: false }), fresh.forward(x, { training: false })];
    expect(Array.from(await yb.logits.data())).to.deep.equal(Array.from(await ya.logits.data()));
    tf.dispose([x, ya.logits, yb.logits]);
    model.dispose();
    fresh.dispose();
  });

  it('export --format onnx: logits [N, 3, H, W]; with ONNX Runtime, equal to the checkpoint model', async () => {
    const out = path.join(dir, 'semfpn.onnx');
    expect(await runCli(['export', ckpt(4), '--format', 'onnx', '--out', out])).to.match(/3 classes; outputs logits \[N, 3, H, W\]\)\n$/);
    if (!(await hasOnnxRuntime())) return;
    const cfg = loadConfig(cfgFile) as SegmentationConfig;
    const { model } = await loadSegmentationCheckpoint(cfg, ckpt(4));
    const session = await OnnxRuntimeModel.create(out);
    try {
      const x = tf.tensor4d(seededFloats(64 * 96 * 3, 21), [1, 64, 96, 3]);
      const y = model.forward(x, { training: false }).logits;
      const ref = nhwcToNchw((await y.data()) as Float32Array, [1, 64, 96, 3]);
      const got = await session.run(nhwcToNchw(x.dataSync() as Float32Array, [1, 64, 96, 3]), [1, 3, 64, 96]);
      tf.dispose([x, y]);
      let err = 0;
      let scale = 0;
      ref.forEach((v, i) => {
        err = Math.max(err, Math.abs(got.logits.data[i] - v));
        scale = Math.max(scale, Math.abs(v));
      });
      // float32 accumulation order differs between tfjs and ORT (see test/export/onnx.test.ts).
      expect(err / scale).to.be.at.most(1e-4);
    } finally {
      await session.release();
      model.dispose();
    }
  });
});

/**
 * A stand-in segmentation model whose logits are its input (K = 3): the prediction of every pixel is the argmax of
 * its normalized colour, independent of the other pixels, so sliding windows, flips and resizing back have
 * closed-form results.
 */
function pixelwiseModel(): SegmentationModel {
  return {
    numClasses: 3,
    forward: (x: tf.Tensor4D) => ({ logits: tf.clone(x) }),
  } as unknown as SegmentationModel;
}

/** argmax over the 3 normalized channels of each pixel (first index on ties, as tf.argMax). */
function channelArgmax(pixels: Uint8Array, height: number, width: number): Uint8Array {
  const norm = normalizeImage({ data: pixels, height, width }).data;
  const out = new Uint8Array(height * width);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < 3; c++) if (norm[3 * i + c] > norm[3 * i + best]) best = c;
    out[i] = best;
  }
  return out;
}

function randomPixels(n: number, seed: number): Uint8Array {
  return Uint8Array.from(seededFloats(n, seed), (v) => Math.floor((v + 1) * 127.99));
}

describe('segmentImage (multiScaleInputs, then inferSegmentation)', () => {
  const H = 13;
  const W = 17;
  const image = { data: randomPixels(H * W * 3, 11), height: H, width: W };
  const whole = { shortEdge: null, scales: [1], flip: false, slidingWindow: null };

  it('original size, one pass: the per-pixel argmax, probabilities = softmax of the logits', async () => {
    const { mask, probabilities } = await segmentImage(pixelwiseModel(), image, whole);
    expect(Array.from(mask)).to.deep.equal(Array.from(channelArgmax(image.data, H, W)));
    const norm = normalizeImage(image).data;
    const z = Math.exp(norm[0]) + Math.exp(norm[1]) + Math.exp(norm[2]);
    // float32 softmax of values within ±3: relative error a few ulp.
    expect(probabilities[1]).to.be.closeTo(Math.exp(norm[1]) / z, 1e-6);
  });

  it('overlapping 5x5 windows every 3 px and a flipped pass give the same masks and probabilities', async () => {
    const a = await segmentImage(pixelwiseModel(), image, whole);
    const b = await segmentImage(pixelwiseModel(), image, { ...whole, flip: true, slidingWindow: { cropSize: 5, stride: 3 } });
    expect(Array.from(b.mask)).to.deep.equal(Array.from(a.mask));
    for (let i = 0; i < a.probabilities.length; i++) expect(b.probabilities[i]).to.be.closeTo(a.probabilities[i], 1e-6);
  });

  it('a smaller inference size is mapped back to the original H x W', async () => {
    const r = await segmentImage(pixelwiseModel(), image, { ...whole, shortEdge: 7, scales: [1, 1.5], flip: true });
    expect(r.mask.length).to.equal(H * W);
    expect(r.probabilities.length).to.equal(H * W * 3);
    // Probabilities averaged over 4 passes still sum to 1 per pixel.
    for (let i = 0; i < H * W; i += 37) expect(r.probabilities[3 * i] + r.probabilities[3 * i + 1] + r.probabilities[3 * i + 2]).to.be.closeTo(1, 1e-5);
  });

  it('leaks no tensor', async () => {
    await expectNoLeak(() => segmentImage(pixelwiseModel(), image, { ...whole, shortEdge: 9, scales: [1, 0.5], flip: true, slidingWindow: { cropSize: 6, stride: 4 } }));
  });
});

describe('CamVid-style data (pair list with foreign absolute paths, grayscale labels, void 11)', () => {
  it('scans, reads void 11 as ignored, and scores the prediction at the original size', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-camvid-'));
    try {
      fs.mkdirSync(path.join(root, 'val'));
      fs.mkdirSync(path.join(root, 'valannot'));
      const [h, w] = [9, 12];
      const pixels = randomPixels(h * w * 3, 3);
      const labels = Uint8Array.from(seededFloats(h * w, 4), (v) => Math.floor((v + 1) * 5.999)); // 0..11
      await sharp(Buffer.from(pixels), { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(root, 'val', 'f1.png'));
      // Mode L PNG without palette, as SegNet's CamVid labels.
      fs.writeFileSync(path.join(root, 'valannot', 'f1.png'), encode({ width: w, height: h, data: labels, channels: 1, depth: 8 }));
      fs.writeFileSync(path.join(root, 'val.txt'), '/SegNet/CamVid/val/f1.png /SegNet/CamVid/valannot/f1.png\n');
      const cfg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../configs/segmentation/fcn_r50_d8_camvid.json'), 'utf8')) as SegmentationConfig;
      cfg.data.root = root;
      cfg.model.numClasses = 3; // the stand-in model has 3 outputs; labels 3..10 are then an error
      cfg.data.classNames = null;
      let err: Error | undefined;
      const records = await scanSegmentationSplit(cfg, 'val');
      expect(records.map((r) => [r.file, r.maskFile])).to.deep.equal([[path.join(root, 'val', 'f1.png'), path.join(root, 'valannot', 'f1.png')]]);
      await evaluateSegmentationRecords(pixelwiseModel(), cfg, records, { quiet: true }).catch((e: Error) => (err = e));
      expect(err?.message, err?.message).to.match(/valannot\/f1\.png': class \d+ at pixel .* is not in 0\.\.2 nor 255/);
      // With the 11 CamVid classes, the stand-in predicts 0..2 only; expected metrics from the hand-made arrays.
      cfg.model.numClasses = 11;
      const m = await evaluateSegmentationRecords(pixelwiseModel(), cfg, await scanSegmentationSplit(cfg, 'val'), { quiet: true });
      const expected = new SegmentationConfusion({ numClasses: 11, ignoreIndex: 11 });
      expected.update(labels, channelArgmax(pixels, h, w));
      // Masks are read with void 11 → 255 before scoring; the counts are the same.
      expect({ ...m, ignoreIndex: 11 }).to.deep.equal(expected.compute());
      expect(labels.includes(11)).to.equal(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('overlay and palette masks', () => {
  it('encodePaletteMask: the samples are the classes and the palette is the VOC colormap', () => {
    const mask = Uint8Array.from([0, 1, 2, 255, 15, 0]);
    const png = encodePaletteMask(mask, 2, 3);
    const rgb = decodeRgbPng(png, 'mem.png');
    const cmap = vocColormap();
    for (let i = 0; i < mask.length; i++) {
      expect(Array.from(rgb.data.subarray(3 * i, 3 * i + 3))).to.deep.equal(Array.from(cmap.subarray(3 * mask[i], 3 * mask[i] + 3)));
    }
    // VOC devkit colours: 1 = (128, 0, 0), 15 (person) = (192, 128, 128), 255 = (224, 224, 192).
    expect(Array.from(cmap.subarray(3, 6))).to.deep.equal([128, 0, 0]);
    expect(Array.from(cmap.subarray(45, 48))).to.deep.equal([192, 128, 128]);
  });

  it('overlayMask blends (1 - a)·image + a·colour, leaving transparent classes and void as they are', () => {
    const image = Uint8Array.from([100, 100, 100, 10, 20, 30, 200, 0, 50, 7, 7, 7]);
    const mask = Uint8Array.from([0, 1, 15, 255]);
    const out = overlayMask(image, mask, 2, 2, { opacity: 0.5, transparentClasses: [0] });
    // class 1 (128,0,0): (10+128)/2=69, 20/2=10, 30/2=15; class 15 (192,128,128): 196, 64, 89.
    expect(Array.from(out)).to.deep.equal([100, 100, 100, 69, 10, 15, 196, 64, 89, 7, 7, 7]);
  });
});

describe('segmentationParamGroups', () => {
  it('the auxiliary head steps with 10x the learning rate (torchvision reference), the rest with 1x', () => {
    const cfg = loadConfig(path.resolve(__dirname, '../../configs/segmentation/fcn_r50_d8_camvid.json'));
    if (cfg.task !== 'segmentation') throw new Error('not a segmentation config');
    const model = buildSegmentationModel(cfg);
    try {
      const groups = segmentationParamGroups(model, cfg);
      const opt = new SgdOptimizer(groups, { lr: 0.01 });
      const boosted = opt.parameterNames().filter((n) => opt.lrMultOf(n) !== 1);
      // torchvision FCNHead(1024, K): 0 = Conv2d 3x3 without bias, 1 = BatchNorm2d, 4 = Conv2d 1x1 with bias.
      expect(boosted).to.deep.equal([
        'aux_classifier.0.weight', 'aux_classifier.1.weight', 'aux_classifier.1.bias', 'aux_classifier.4.weight', 'aux_classifier.4.bias',
      ]);
      expect(boosted.map((n) => opt.lrMultOf(n))).to.deep.equal([10, 10, 10, 10, 10]);
      expect(AUX_LR_MULT).to.equal(10);
      expect(opt.parameterNames()).to.have.length(model.trainableParameters().length);
      expect(opt.weightDecayOf('aux_classifier.4.weight')).to.equal(cfg.optimizer.weightDecay);
      opt.dispose();
    } finally {
      model.dispose();
    }
  });
});

describe('out-of-memory errors', () => {
  it('a wasm memory that cannot grow is recognised, and explained in one line naming the settings to lower', () => {
    // Node's WebAssembly global (the DOM lib, which types it, is not in this project's tsconfig).
    const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { grow(pages: number): number } } })
      .WebAssembly;
    let grow: unknown;
    try {
      new wasm.Memory({ initial: 1, maximum: 2 }).grow(4);
    } catch (e) {
      grow = e;
    }
    expect(grow).to.be.instanceOf(RangeError);
    expect(isOutOfMemoryError(grow)).to.equal(true);
    expect(isOutOfMemoryError(new Error('Aborted(OOM)'))).to.equal(true);
    // tfjs-backend-wasm's release build aborts without a reason: out of memory when the heap is near its 4 GB limit.
    const bare = new Error('Aborted(). Build with -sASSERTIONS for more info.');
    expect([isOutOfMemoryError(bare, 4 * 2 ** 30 - 65536), isOutOfMemoryError(bare, 2 ** 30), isOutOfMemoryError(bare, null)]).to.deep.equal([true, false, true]);
    expect(isOutOfMemoryError(new Error('mask x.png: class 12 at pixel 3 is not in 0..10 nor 255'))).to.equal(false);
    const cfg = loadConfig(path.resolve(__dirname, '../../configs/segmentation/fcn_r50_d8_camvid.json'));
    if (cfg.task !== 'segmentation') throw new Error('not a segmentation config');
    const t = explainOutOfMemory(grow, cfg, 'training') as Error;
    expect(t.message).to.equal(
      `out of memory during training of fcn_resnet50 (output stride 8): the wasm heap is limited to 4 GB; lower train.batchSize (now ${cfg.train.batchSize}) ` +
        `or data.trainCropSize (now ${cfg.data.trainCropSize})`,
    );
    expect(t.message).to.not.contain('\n');
    expect((explainOutOfMemory(grow, cfg, 'evaluation') as Error).message).to.match(
      /during evaluation .*; set data.evalShortEdge \(now null: the original size\) lower or use eval.slidingWindow$/,
    );
    const other = new Error('unrelated');
    expect(explainOutOfMemory(other, cfg, 'training')).to.equal(other);
  });
});

describe('overlay files', () => {
  it('overlayFileName: JPEG inputs keep JPEG, PNG and other inputs get PNG', () => {
    expect(['a/x.jpg', 'x.JPEG', 'y.png', 'z.webp', 'noext'].map(overlayFileName)).to.deep.equal([
      'x_overlay.jpg', 'x_overlay.jpg', 'y_overlay.png', 'z_overlay.png', 'noext_overlay.png',
    ]);
  });

  it('segmentationLegend: shares to one decimal, classes printing as 0.0% left out, transparent classes clear', () => {
    const present = [
      { className: 'background', label: 0, fraction: 0.6 },
      { className: 'Road', label: 3, fraction: 0.3995 },
      { className: 'Pole', label: 2, fraction: 0.0005 }, // (100 * 0.0005).toFixed(1) = '0.1'
      { className: 'Car', label: 8, fraction: 0.0004 }, // '0.0': left out
      { className: 'Sky', label: 1, fraction: 0 },
    ];
    expect(segmentationLegend(present, [0])).to.deep.equal([
      { label: 0, text: 'background 60.0%', clear: true },
      { label: 3, text: 'Road 40.0%', clear: false },
      { label: 2, text: 'Pole 0.1%', clear: false },
    ]);
  });

  it('legend swatches: 2 px white outline on whole pixels, fill = class colour, a clear class shows the strip grey', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-overlay-'));
    try {
      const [h, w] = [40, 120];
      const image = new Uint8Array(h * w * 3).fill(90);
      const mask = new Uint8Array(h * w);
      mask.fill(1, 0, (h * w) / 2);
      const file = path.join(dir, 'o.png');
      await writeOverlay(file, image, mask, h, w, [{ label: 0, text: 'background', clear: true }, { label: 1, text: 'aeroplane' }], { transparentClasses: [0] });
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      // fontSize = max(12, round(40 / 30)) = 12, row = round(19.2) = 19. Entry 1: swatch rect x = 6, y = 40 + 3 + 2 = 45,
      // 15 x 15; the 2 px stroke centred on its edges covers columns 5..6 and rows 44..45 fully. Its width
      // 19 + ceil(0.6 * 12 * 10) + 16 = 107 puts entry 2 at x = 113, whose width 19 + ceil(0.6 * 12 * 9) + 16 = 100
      // overflows 120: it wraps to x = 6, y = 19 (rect y = 64). Strip: 19 + 19 + 6 = 44 rows.
      expect([info.width, info.height]).to.deep.equal([w, h + 44]);
      const c = info.channels;
      const px = (x: number, y: number): number[] => Array.from(data.subarray((y * w + x) * c, (y * w + x) * c + 3));
      expect(px(5, 52)).to.deep.equal([255, 255, 255]); // left outline of the clear swatch
      expect(px(6, 44)).to.deep.equal([255, 255, 255]); // top outline
      expect(px(13, 52)).to.deep.equal([LEGEND_BACKGROUND.r, LEGEND_BACKGROUND.g, LEGEND_BACKGROUND.b]); // clear inside
      expect(px(5, 71)).to.deep.equal([255, 255, 255]); // outline of the class-1 swatch
      expect(px(13, 71)).to.deep.equal([128, 0, 0]); // VOC colour of class 1
      // Picture: class 1 blended 50/50 with (128, 0, 0): (90 + 128) / 2 = 109, 45, 45; class 0 left as is.
      expect(px(0, 0)).to.deep.equal([109, 45, 45]);
      expect(px(0, h - 1)).to.deep.equal([90, 90, 90]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
