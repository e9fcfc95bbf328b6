/**
 * The bundled segmentation configs: each loads and validates, builds its model and runs it on a tiny input with the
 * declared output stride, and the configs differ from the torchvision-recipe FCN config (the Semantic FPN CPU config:
 * from the Semantic FPN reference config) only in the keys listed here (no config inheritance: this diff is what
 * keeps complete files consistent). Semantic FPN's cross-key rules are load-time errors naming the key.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, loadConfig, validateConfig } from '../../src/config/load';
import type { SegmentationConfig } from '../../src/config/types';
import { SemanticFpn } from '../../heads/segmentation/semantic_fpn';
import { buildSegmentationModel, loadSegmentationInitialWeights, segmentationClassNames } from '../../src/tasks/segmentation';
import { expectNoLeak } from '../helpers/tensors';

const DIR = path.resolve(__dirname, '../../configs/segmentation');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

function load(file: string): SegmentationConfig {
  const cfg = loadConfig(path.join(DIR, file));
  if (cfg.task !== 'segmentation') throw new Error(`${file}: task ${cfg.task}`);
  return cfg;
}

/** Leaf paths and values of a JSON object (arrays are leaves). */
function flatten(v: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) for (const [p, s] of flatten(x, prefix ? `${prefix}.${k}` : k)) out.set(p, s);
  } else out.set(prefix, JSON.stringify(v));
  return out;
}

function differingKeys(a: unknown, b: unknown): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  return [...new Set([...fa.keys(), ...fb.keys()])].filter((k) => fa.get(k) !== fb.get(k)).sort();
}

describe('configs/segmentation', function () {
  this.timeout(120_000);

  it('holds the torchvision-recipe configs and a CPU-sized one', () => {
    for (const f of ['fcn_r50_d8.json', 'deeplabv3_r50_d8.json', 'deeplabv3_r101_d8.json', 'fcn_r50_os16_cocotiny.json', 'semantic_fpn_r50_voc.json', 'semantic_fpn_r50_voc_seg.json']) {
      expect(FILES).to.include(f);
    }
  });

  for (const file of FILES.filter((f) => !f.startsWith('semantic_fpn_'))) {
    it(`${file}: loads, validates, and its model gives [1, 33, 33, K] logits at the declared output stride`, async () => {
      const cfg = load(file);
      expect(segmentationClassNames(cfg)).to.have.length(cfg.model.numClasses);
      expect(cfg.data.splits).to.have.property(cfg.data.trainSplit);
      expect(cfg.data.splits).to.have.property(cfg.data.valSplit);
      const model = buildSegmentationModel(cfg);
      try {
        if (model instanceof SemanticFpn) throw new Error(`${file}: not an FCN / DeepLabV3 config`);
        const specs = model.backbone.featureSpecs();
        expect(specs.C5?.stride).to.equal(cfg.model.outputStride);
        expect(model.auxClassifier !== undefined).to.equal(cfg.model.aux);
        await expectNoLeak(async () => {
          const x = tf.zeros([1, 33, 33, 3]) as tf.Tensor4D;
          const out = model.forward(x, { training: false });
          expect(out.logits.shape).to.deep.equal([1, 33, 33, cfg.model.numClasses]);
          tf.dispose([x, out.logits, out.auxLogits ?? []]);
        });
      } finally {
        model.dispose();
      }
    });
  }

  for (const file of FILES.filter((f) => f.startsWith('semantic_fpn_'))) {
    it(`${file}: loads, validates, and its Semantic FPN reads C2..C5 at strides 4..32 and gives [1, 64, 96, K] logits`, async () => {
      const cfg = load(file);
      expect(segmentationClassNames(cfg)).to.have.length(cfg.model.numClasses);
      expect(cfg.data.splits).to.have.property(cfg.data.trainSplit);
      expect(cfg.data.splits).to.have.property(cfg.data.valSplit);
      const model = buildSegmentationModel(cfg);
      try {
        if (!(model instanceof SemanticFpn)) throw new Error(`${file}: not a Semantic FPN config`);
        const specs = model.backbone.body.featureSpecs();
        expect(['C2', 'C3', 'C4', 'C5'].map((l) => specs[l as 'C2']?.stride)).to.deep.equal([4, 8, 16, 32]);
        expect(model.sizeDivisibility).to.equal(cfg.model.outputStride);
        const head = cfg.model.head;
        if (head.type !== 'semantic_fpn') throw new Error('unreachable');
        expect(model.backbone.featureSpecs().P2?.channels).to.equal(head.fpnChannels);
        expect(model.semSegHead.predictor.weight.shape).to.deep.equal([1, 1, head.convDims, cfg.model.numClasses]);
        await expectNoLeak(async () => {
          const x = tf.zeros([1, 64, 96, 3]) as tf.Tensor4D;
          const out = model.forward(x, { training: false });
          expect(out.logits.shape).to.deep.equal([1, 64, 96, cfg.model.numClasses]);
          tf.dispose([x, out.logits]);
        });
      } finally {
        model.dispose();
      }
    });
  }

  it('the reference configs differ from fcn_r50_d8.json only in the model name and the output folder', () => {
    const base = load('fcn_r50_d8.json');
    expect(differingKeys(base, load('deeplabv3_r50_d8.json'))).to.deep.equal(['model.head.atrousRates', 'model.head.type', 'train.outputDir']);
    expect(differingKeys(base, load('deeplabv3_r101_d8.json'))).to.deep.equal(['model.backbone.name', 'model.head.atrousRates', 'model.head.type', 'train.outputDir']);
  });

  it('the CPU-sized and CamVid configs differ from fcn_r50_d8.json only in data, sizes and run-length keys', () => {
    const base = load('fcn_r50_d8.json');
    expect(differingKeys(base, load('fcn_r50_os16_cocotiny.json'))).to.deep.equal([
      'data.evalShortEdge',
      'data.root',
      'data.trainCropSize',
      'data.trainShortEdge.max',
      'data.trainShortEdge.min',
      'model.aux',
      'model.outputStride',
      'optimizer.baseBatchSize',
      'schedule.maxIter',
      'schedule.warmup.factor',
      'schedule.warmup.iters',
      'train.batchSize',
      'train.checkpointEvery',
      'train.evalEvery',
      'train.logEvery',
      'train.numWorkers',
      'train.outputDir',
    ]);
    const camvid = differingKeys(base, load('fcn_r50_d8_camvid.json'));
    expect(camvid.filter((k) => !k.startsWith('data.'))).to.deep.equal(['description', 'model.numClasses', 'schedule.maxIter', 'train.batchSize', 'train.outputDir']);
  });

  it('the Semantic FPN configs: the reference differs from fcn_r50_d8.json in head, stride, data and recipe; the CPU one from it in data, sizes and run length', () => {
    const ref = load('semantic_fpn_r50_voc.json');
    expect(differingKeys(load('fcn_r50_d8.json'), ref)).to.deep.equal([
      'data.evalShortEdge',
      'data.splits.train.imagesDir',
      'data.splits.train.list',
      'data.splits.train.masksDir',
      'data.splits.trainaug.imagesDir',
      'data.splits.trainaug.list',
      'data.splits.trainaug.masksDir',
      'data.trainCropSize',
      'data.trainShortEdge.max',
      'data.trainShortEdge.min',
      'data.trainSplit',
      'description',
      'model.aux',
      'model.head.convDims',
      'model.head.fpnChannels',
      'model.head.numGroups',
      'model.head.type',
      'model.outputStride',
      'optimizer.baseBatchSize',
      'optimizer.baseLr',
      'optimizer.weightDecay',
      'schedule.main.minLr',
      'schedule.maxIter',
      'train.checkpointEvery',
      'train.evalEvery',
      'train.logEvery',
      'train.outputDir',
    ]);
    expect(differingKeys(ref, load('semantic_fpn_r50_voc_seg.json'))).to.deep.equal([
      'data.evalShortEdge',
      'data.root',
      'data.splits.train.imagesDir',
      'data.splits.train.list',
      'data.splits.train.masksDir',
      'data.splits.trainaug.imagesDir',
      'data.splits.trainaug.list',
      'data.splits.trainaug.masksDir',
      'data.trainCropSize',
      'data.trainShortEdge.max',
      'data.trainShortEdge.min',
      'data.trainSplit',
      'description',
      'optimizer.baseBatchSize',
      'schedule.maxIter',
      'schedule.warmup.factor',
      'schedule.warmup.iters',
      'train.batchSize',
      'train.checkpointEvery',
      'train.evalEvery',
      'train.logEvery',
      'train.numWorkers',
      'train.outputDir',
    ]);
  });

  it('the Semantic FPN reference recipe is mmsegmentation fpn_r50_512x512_40k_voc12aug: SGD lr 0.01 at batch 16, momentum 0.9, wd 5e-4, poly 0.9 to 1e-4, crop 512', () => {
    const cfg = load('semantic_fpn_r50_voc.json');
    expect([cfg.optimizer.baseLr, cfg.optimizer.baseBatchSize, cfg.train.batchSize, cfg.optimizer.momentum, cfg.optimizer.weightDecay]).to.deep.equal([
      0.01, 16, 16, 0.9, 5e-4,
    ]);
    expect([cfg.schedule.maxIter, cfg.schedule.warmup, cfg.schedule.main]).to.deep.equal([40000, undefined, { kind: 'poly', power: 0.9, minLr: 1e-4 }]);
    // pascal_voc12.py: Resize(img_scale=(2048, 512), ratio_range=(0.5, 2.0)), RandomCrop 512, flip 0.5; test at 512, whole image.
    expect([cfg.data.trainShortEdge, cfg.data.trainCropSize, cfg.data.flipProbability, cfg.data.evalShortEdge, cfg.eval]).to.deep.equal([
      { min: 256, max: 1024 }, 512, 0.5, 512, { scales: [1], flip: false, slidingWindow: null },
    ]);
    // detectron2 SemSegFPNHead: FPN 256, conv_dims 128, GroupNorm(32).
    expect([cfg.model.head, cfg.model.outputStride, cfg.model.aux, cfg.model.weights]).to.deep.equal([
      { type: 'semantic_fpn', fpnChannels: 256, convDims: 128, numGroups: 32 }, 32, false, null,
    ]);
  });

  it('semantic_fpn: another output stride, an auxiliary head or whole-model weights are one error each naming the key and why', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(DIR, 'semantic_fpn_r50_voc.json'), 'utf8'));
    const problemsOf = (model: Record<string, unknown>): string[] => {
      try {
        validateConfig({ ...raw, model: { ...raw.model, ...model } }, 'x.json');
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as ConfigError).problems;
      }
      return [];
    };
    expect(problemsOf({})).to.deep.equal([]);
    expect(problemsOf({ outputStride: 16 })).to.deep.equal(['/model/outputStride: must be 32 (semantic_fpn reads C2..C5 of an undilated ResNet)']);
    expect(problemsOf({ aux: true })).to.deep.equal(['/model/aux: must be false (semantic_fpn has no auxiliary head)']);
    expect(problemsOf({ weights: 'fcn_resnet50.pth' })).to.deep.equal([
      '/model/weights: must be null (torchvision publishes no Semantic FPN weights: start from model.backboneWeights, an ImageNet ResNet, or resume a checkpoint)',
    ]);
    expect(problemsOf({ head: { type: 'semantic_fpn', fpnChannels: 256, convDims: 128 } })).to.deep.equal(["/model/head: missing key 'numGroups'"]);
    // FCN and DeepLabV3 keep output stride 8 or 16.
    const fcn = JSON.parse(fs.readFileSync(path.join(DIR, 'fcn_r50_d8.json'), 'utf8'));
    expect(() => validateConfig({ ...fcn, model: { ...fcn.model, outputStride: 32 } }, 'x.json')).to.throw(/\/model\/outputStride: must be one of 8, 16$/);
  });

  it('semantic_fpn built from a config that skipped validation: the same rules are one error each, the backbone released', async () => {
    const cfg = load('semantic_fpn_r50_voc_seg.json');
    const small = { ...cfg, model: { ...cfg.model, backbone: { ...cfg.model.backbone, name: 'resnet18' as const } } };
    const before = tf.memory().numTensors;
    expect(() => buildSegmentationModel({ ...small, model: { ...small.model, outputStride: 16 } })).to.throw(
      /^model.outputStride is 16: semantic_fpn reads C2..C5 of an undilated ResNet, set it to 32$/,
    );
    expect(() => buildSegmentationModel({ ...small, model: { ...small.model, aux: true } })).to.throw(/^model.aux is true: semantic_fpn has no auxiliary head/);
    expect(() => buildSegmentationModel({ ...small, model: { ...small.model, head: { type: 'semantic_fpn', fpnChannels: 64, convDims: 128, numGroups: 48 } } })).to.throw(
      /^model.head.numGroups \(48\) must divide model.head.convDims \(128\)$/,
    );
    expect(tf.memory().numTensors).to.equal(before);
    const model = buildSegmentationModel(small);
    try {
      let err: Error | undefined;
      await loadSegmentationInitialWeights(model, { ...small, model: { ...small.model, weights: 'w.pth' } }, () => undefined).catch((e: Error) => (err = e));
      expect(err?.message).to.equal(
        'model.weights is w.pth: torchvision publishes no semantic_fpn_resnet18 weights; start from model.backboneWeights (an ImageNet ResNet)',
      );
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('the reference recipe is torchvision references/segmentation: SGD 0.9, wd 1e-4, poly 0.9, crop 480, aux 0.5', () => {
    const cfg = load('fcn_r50_d8.json');
    // torchvision: --lr 0.02 with 8 GPUs x 4 images (README of references/segmentation), i.e. 0.02 per 32 images.
    expect([cfg.optimizer.baseLr, cfg.optimizer.baseBatchSize, cfg.optimizer.momentum, cfg.optimizer.weightDecay]).to.deep.equal([0.02, 32, 0.9, 1e-4]);
    expect(cfg.schedule.main).to.deep.equal({ kind: 'poly', power: 0.9 });
    // presets.py SegmentationPresetTrain(base_size=520, crop_size=480): RandomResize(0.5 * 520, 2.0 * 520).
    expect([cfg.data.trainShortEdge, cfg.data.trainCropSize, cfg.data.flipProbability, cfg.data.evalShortEdge]).to.deep.equal([
      { min: 260, max: 1040 }, 480, 0.5, 520,
    ]);
    expect([cfg.model.outputStride, cfg.model.aux, cfg.loss.auxWeight]).to.deep.equal([8, true, 0.5]);
  });

  it('an unknown key, a wrong output stride and a missing eval key are errors naming the path', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(DIR, 'fcn_r50_d8.json'), 'utf8'));
    raw.model.outputStride = 32;
    raw.data.ignoreLabel = 255;
    delete raw.eval.flip;
    let err: unknown;
    try {
      validateConfig(raw, 'x.json');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).to.include("/data: unknown key 'ignoreLabel'");
    expect(problems).to.include('/model/outputStride: must be one of 8, 16');
    expect(problems).to.include("/eval: missing key 'flip'");
  });

  it('atrousRates on an FCN model and class names that do not match numClasses are rejected', () => {
    const cfg = load('fcn_r50_d8.json');
    expect(() => validateConfig({ ...cfg, model: { ...cfg.model, head: { type: 'fcn', atrousRates: [6, 12, 18] } } }, 'x.json')).to.throw(
      /\/model\/head: unknown key 'atrousRates'/,
    );
    expect(() => segmentationClassNames({ ...cfg, data: { ...cfg.data, classNames: ['a', 'b'] } })).to.throw(/2 names but model.numClasses is 21/);
  });
});
