/**
 * `resvision eval|predict --weights`: a whole-model torchvision state dict instead of a checkpoint. The state dicts
 * are made here (small hash-initialized models written with `exportTorchvisionWeights`, torchvision's names and
 * layouts): a ResNet-18 RetinaNet with 91 outputs per anchor (label = COCO category id) and a Faster R-CNN with 90
 * classes (label l = category id l + 1), evaluated on a two-image COCO split whose categories are 4 of COCO's 80
 * (ids 1, 3, 13, 70). The expected numbers come from the library: the same model evaluated on the split listed in
 * torchvision's label order (classes by COCO name), the way a checkpoint trained with those labels is evaluated.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadDetectionSplit } from '../../datasets/detection_split';
import { validateConfig } from '../../src/config/load';
import type { ClassificationConfig, DetectionConfig, SegmentationConfig } from '../../src/config/types';
import type { Module } from '../../src/nn/module';
import { buildDetector, detectionTask, evaluateDetector } from '../../src/tasks/detection';
import { buildClassifier, buildSegmentationModel } from '../../src/tasks/models';
import { COCO_CATEGORIES, IMAGENET_CATEGORIES, VOC_CATEGORIES } from '../../src/weights/categories';
import { exportTorchvisionWeights, loadTorchvisionWeights } from '../../src/weights/torchvision';
import { runCli } from '../helpers/cli';
import { assignHashState } from '../helpers/hash_state';

const REPO = path.resolve(__dirname, '../..');
const COCO = path.join(REPO, 'test/fixtures/coco_images');
const IMAGE = path.join(REPO, 'test/fixtures/bccd/BCCD/JPEGImages/BloodImage_00147.jpg');
/** The categories of the test split: the fixture's two annotated ones (13 stop sign, 70 toilet) and two more. */
const SPLIT_CATEGORY_IDS = [1, 3, 13, 70];

/**
 * Write a hash-initialized model as a torchvision state dict and dispose it.
 * @param bias added to the given elements of the named state vector (to make some classes score higher).
 */
async function writeStateDict(model: Module, file: string, bias?: { name: string; add: Record<number, number> }): Promise<void> {
  try {
    assignHashState(model);
    if (bias) {
      const v = model.stateEntries().find((e) => e.name === bias.name)!.variable;
      const values = v.dataSync().slice();
      for (const [i, a] of Object.entries(bias.add)) values[Number(i)] += a;
      v.assign(tf.tensor(values, v.shape));
    }
    await exportTorchvisionWeights(model, file);
  } finally {
    model.dispose();
  }
}

function readConfig(rel: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(REPO, rel), 'utf8'));
}

/** Run the CLI expecting it to fail; return the error's message. */
async function cliError(args: string[]): Promise<string> {
  try {
    await runCli(args);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`resvision ${args.join(' ')} did not fail`);
}

describe('eval and predict --weights: a torchvision state dict of the whole model', function () {
  this.timeout(300_000);
  let dir: string;
  let retina: DetectionConfig;
  let frcnn: DetectionConfig;
  const files = { retina: '', frcnn: '', retinaCfg: '', frcnnCfg: '' };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-weights-'));
    const gt = JSON.parse(fs.readFileSync(path.join(COCO, 'instances_val2017_subset.json'), 'utf8'));
    gt.categories = gt.categories.filter((c: { id: number }) => SPLIT_CATEGORY_IDS.includes(c.id));
    fs.writeFileSync(path.join(dir, 'instances_val.json'), JSON.stringify(gt));
    fs.symlinkSync(path.join(COCO, 'val2017'), path.join(dir, 'val2017'));
    const data = {
      format: 'coco', root: dir, trainSplit: 'val', valSplit: 'val', annotationsDir: '.', imagesDir: 'val2017',
      classes: null, trainShortEdge: [64], trainMaxSize: 1000, evalShortEdge: 64, evalMaxSize: 1000, flipProbability: 0, filterEmpty: false,
    };
    const r = readConfig('configs/detection/retinanet_r50_fpn.json');
    r.model.backbone = { name: 'resnet18', normLayer: 'frozen', frozenStages: 0, zeroInitResidual: false, replaceStrideWithDilation: [false, false, false] };
    r.model.fpn.channels = 32;
    r.model.postprocess.scoreThresh = 0;
    r.data = data;
    r.train = { ...r.train, numWorkers: 1 };
    retina = validateConfig(r, 'retina.json') as DetectionConfig;
    const f = readConfig('configs/detection/faster_rcnn_r18_fpn_bccd.json');
    f.model.fpn.channels = 32;
    f.model.roiHeads = { ...f.model.roiHeads, representationSize: 64, scoreThresh: 0 };
    f.data = data;
    f.train = { ...f.train, numWorkers: 1 };
    frcnn = validateConfig(f, 'frcnn.json') as DetectionConfig;
    files.retinaCfg = path.join(dir, 'retina.json');
    files.frcnnCfg = path.join(dir, 'frcnn.json');
    fs.writeFileSync(files.retinaCfg, JSON.stringify(retina));
    fs.writeFileSync(files.frcnnCfg, JSON.stringify(frcnn));
    files.retina = path.join(dir, 'retinanet_r18_coco.safetensors');
    files.frcnn = path.join(dir, 'fasterrcnn_r18_coco.safetensors');
    await writeStateDict(buildDetector(retina, 91), files.retina);
    // The hash-initialized box predictor favours a few classes outside the split: raise two of the split's (output
    // index = category id) so that some detections are scored and others dropped.
    await writeStateDict(buildDetector(frcnn, 90), files.frcnn, { name: 'roi_heads.box_predictor.cls_score.bias', add: { 1: 1, 70: 1 } });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The metrics of the state dict's model on the split listed in torchvision's label order (by COCO name). */
  async function expected(cfg: DetectionConfig, file: string, classes: readonly string[]) {
    const model = buildDetector(cfg, classes.length);
    try {
      await loadTorchvisionWeights(model, file, { family: cfg.model.arch === 'faster_rcnn' ? 'faster_rcnn' : 'retinanet' });
      const split = await loadDetectionSplit(cfg.data, 'val', classes, 'eval');
      return await evaluateDetector(model, cfg, split, { quiet: true });
    } finally {
      model.dispose();
    }
  }

  it('RetinaNet, K = 91 from cls_logits: eval --weights prints the 12 COCO lines and results equal to the model evaluated in COCO label order', async () => {
    const want = await expected(retina, files.retina, COCO_CATEGORIES);
    expect(want.results.length).to.be.greaterThan(0);
    const out = path.join(dir, 'eval_retina');
    const text = await runCli(['eval', files.retinaCfg, '--weights', files.retina, '--out', out, '--quiet']);
    expect(text).to.include(`split val: 2 images, ${want.results.length} detections\n${want.lines.join('\n')}\n`);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results_val.json'), 'utf8'));
    expect(results).to.deep.equal(JSON.parse(JSON.stringify(want.results)));
    expect(new Set(results.map((x: { category_id: number }) => x.category_id))).to.satisfy((s: Set<number>) => [...s].every((c) => SPLIT_CATEGORY_IDS.includes(c)));
    // The per-class table lists the split's 4 classes.
    expect(text).to.match(/\nclass +COCO AP %\nperson .*\ncar .*\nstop sign .*\ntoilet .*\nwrote /);
  });

  it('Faster R-CNN, K = 90 from cls_score (label l is category id l + 1): same numbers; the notes say how many detections were dropped', async () => {
    const want = await expected(frcnn, files.frcnn, COCO_CATEGORIES.slice(1));
    expect(want.results.length).to.be.greaterThan(0);
    const notes: string[] = [];
    const text = await detectionTask.evaluate(frcnn, { weights: files.frcnn }, { quiet: true, log: (s) => notes.push(s) });
    expect(text).to.include(`split val: 2 images, ${want.results.length} detections\n${want.lines.join('\n')}\n`);
    expect(notes.join('\n')).to.include('90 classes; assumed COCO class names (91 category ids)');
    expect(notes.join('\n')).to.include('4 of its 90 classes map to the 4 classes of split val by category id');
    const dropped = /(\d+) detections of classes split val lacks were dropped/.exec(notes.join('\n'));
    expect(dropped, notes.join('\n')).to.not.equal(null);
    expect(Number(dropped![1])).to.be.greaterThan(0);
  });

  it('predict --weights: COCO names by category id (RetinaNet: id = label; Faster R-CNN: id = label + 1)', async () => {
    for (const [cfgFile, file, offset] of [[files.retinaCfg, files.retina, 0], [files.frcnnCfg, files.frcnn, 1]] as const) {
      const preds = JSON.parse(await runCli(['predict', cfgFile, IMAGE, '--weights', file, '--json', '--score-thresh', '0']));
      const dets: { className: string; label: number; categoryId: number }[] = preds[0].detections;
      expect(dets.length).to.be.greaterThan(0);
      for (const d of dets) {
        expect(d.className).to.equal(COCO_CATEGORIES[d.label + offset]);
        if (!['N/A', '__background__'].includes(d.className)) expect(d.categoryId).to.equal(d.label + offset);
      }
    }
  });

  it('--weights with --checkpoint, or neither: one error', async () => {
    const both = await cliError(['eval', files.retinaCfg, '--weights', files.retina, '--checkpoint', files.frcnn]);
    expect(both).to.equal('resvision eval: give --checkpoint FILE (written by `resvision train`) or --weights FILE|NAME|URL (a torchvision state dict of the whole model), not both');
    const neither = await cliError(['predict', files.retinaCfg, IMAGE]);
    expect(neither).to.match(/^resvision predict: give --checkpoint FILE .* or --weights FILE\|NAME\|URL \(a torchvision state dict of the whole model\)$/);
  });

  it('a state dict of another architecture: one error naming the file and the tensors', async () => {
    const msg = await cliError(['eval', files.frcnnCfg, '--weights', files.retina]);
    expect(msg).to.match(new RegExp(`^${files.retina.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a torchvision fasterrcnn_resnet18_fpn state dict: it has no 'roi_heads.box_predictor.cls_score.weight'`));
    expect(msg).to.include('its first tensors: backbone.body.');
    // Same detector, another depth: the strict load lists what does not fit.
    const r34 = { ...retina, model: { ...retina.model, backbone: { ...retina.model.backbone, name: 'resnet34' } } };
    const r34File = path.join(dir, 'r34.json');
    fs.writeFileSync(r34File, JSON.stringify(r34));
    const strict = await cliError(['eval', r34File, '--weights', files.retina]);
    expect(strict).to.match(/: weights do not match the model \(retinanet name table, strict\): missing: backbone\.body\.layer1\.2\./);
    expect(strict.startsWith(files.retina)).to.equal(true);
  });

  it('segmentation predict --weights: FCN-ResNet-50 with 21 classes from classifier.4 (aux head in the file, not built): VOC names', async () => {
    // ResNet-50: torchvision's BasicBlock (ResNet-18/34) refuses dilation.
    const s = readConfig('configs/segmentation/fcn_r50_d8.json');
    s.data.evalShortEdge = 48;
    const cfg = validateConfig(s, 'fcn.json') as SegmentationConfig;
    const cfgFile = path.join(dir, 'fcn.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const file = path.join(dir, 'fcn_r18_voc.safetensors');
    await writeStateDict(buildSegmentationModel(cfg, { aux: true }), file);
    const preds = JSON.parse(await runCli(['predict', cfgFile, IMAGE, '--weights', file, '--json']));
    const classes: { className: string; label: number }[] = preds[0].classes;
    expect(classes.length).to.be.greaterThan(0);
    for (const c of classes) expect(c.className).to.equal(c.label === 0 ? 'background' : VOC_CATEGORIES[c.label]);
  });

  it('classification predict --weights: 1000 classes from fc, ImageNet names', async () => {
    const c = readConfig('configs/classification/resnet18_hymenoptera.json');
    c.data = { ...c.data, evalResizeSize: 40, evalCropSize: 32 };
    const cfg = validateConfig(c, 'cls.json') as ClassificationConfig;
    const cfgFile = path.join(dir, 'cls.json');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const file = path.join(dir, 'resnet18_in1k.safetensors');
    await writeStateDict(buildClassifier(cfg, 1000), file);
    const preds = JSON.parse(await runCli(['predict', cfgFile, IMAGE, '--weights', file, '--json']));
    const top: { className: string; label: number }[] = preds[0].top;
    expect(top).to.have.length(5);
    for (const t of top) expect(t.className).to.equal(IMAGENET_CATEGORIES[t.label]);
  });
});
