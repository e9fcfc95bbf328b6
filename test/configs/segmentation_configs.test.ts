/**
 * The bundled segmentation configs: each loads and validates, builds its model and runs it on a tiny input with the
 * declared output stride, and the configs differ from the torchvision-recipe FCN config only in the keys listed
 * here (no config inheritance: this diff is what keeps complete files consistent).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, loadConfig, validateConfig } from '../../src/config/load';
import type { SegmentationConfig } from '../../src/config/types';
import { buildSegmentationModel, segmentationClassNames } from '../../src/tasks/segmentation';
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
    for (const f of ['fcn_r50_d8.json', 'deeplabv3_r50_d8.json', 'deeplabv3_r101_d8.json', 'fcn_r50_os16_cocotiny.json']) {
      expect(FILES).to.include(f);
    }
  });

  for (const file of FILES) {
    it(`${file}: loads, validates, and its model gives [1, 33, 33, K] logits at the declared output stride`, async () => {
      const cfg = load(file);
      expect(segmentationClassNames(cfg)).to.have.length(cfg.model.numClasses);
      expect(cfg.data.splits).to.have.property(cfg.data.trainSplit);
      expect(cfg.data.splits).to.have.property(cfg.data.valSplit);
      const model = buildSegmentationModel(cfg);
      try {
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
