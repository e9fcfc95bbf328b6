/**
 * The bundled detection configs: each loads, validates and builds its RetinaNet, which runs on a tiny input with the
 * shapes its FPN specs and anchors imply; the configs differ from one another only in the keys that should differ;
 * the reference values (torchvision / detectron2 RetinaNet 1x) are as documented.
 */
import { octaveAnchorSizes } from '../../heads/detection/anchors';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, loadConfig, scaledLr, validateConfig } from '../../src/config/load';
import type { DetectionConfig } from '../../src/config/types';
import { learningRateAt } from '../../src/engine/lr_schedule';
import { buildDetector } from '../../src/tasks/detection';
import { scheduleOf } from '../../src/tasks/harness';

const DIR = path.resolve(__dirname, '../../configs/detection');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
/** The reference 1x recipes (torchvision / detectron2 RetinaNet, ImageNet-initialized backbone, batch 16). */
const REFERENCE = ['retinanet_r50_fpn.json', 'retinanet_r101_fpn.json'];
/** Configs sized for a 2-core CPU without pretrained weights: trainable BatchNorm, small inputs and batches. */
const CPU_SIZED = ['retinanet_r101_fpn_bccd.json', 'retinanet_r18_fpn_bccd_quickstart.json', 'retinanet_r18_fpn_cocotiny.json'];

function load(name: string): DetectionConfig {
  const cfg = loadConfig(path.join(DIR, name));
  if (cfg.task !== 'detection') throw new Error(`${name}: task ${cfg.task}`);
  return cfg;
}

/** Flatten a JSON value to `path → JSON text` (arrays as whole values). */
function flatten(v: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = JSON.stringify(v);
  return out;
}

function diffKeys(a: unknown, b: unknown): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  return [...new Set([...Object.keys(fa), ...Object.keys(fb)])].filter((k) => fa[k] !== fb[k]).sort();
}

/** The anchor sizes a config's model gets, pixels per level (derived or listed). */
function anchorSizesOf(cfg: DetectionConfig): number[][] {
  const a = cfg.model.anchors;
  return 'sizes' in a ? a.sizes : octaveAnchorSizes(a);
}

/**
 * The sizes each config listed literally before they were derived (15 numbers each). The quickstart's are
 * torchvision's halved with Python's round (half to even): 80.5 -> 80, 101.5 -> 102, 322.5 -> 322.
 */
const LISTED_ANCHOR_SIZES: Record<string, number[][]> = {
  'retinanet_r50_fpn.json': [[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]],
  'retinanet_r101_fpn.json': [[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]],
  'retinanet_r101_fpn_bccd.json': [[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]],
  'retinanet_r18_fpn_cocotiny.json': [[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]],
  'retinanet_r18_fpn_bccd_quickstart.json': [[16, 20, 25], [32, 40, 50], [64, 80, 102], [128, 161, 203], [256, 322, 406]],
};

describe('configs/detection', function () {
  this.timeout(120_000);

  it('each config derives exactly the anchor sizes it used to list', () => {
    expect(FILES.filter((f) => !(f in LISTED_ANCHOR_SIZES))).to.deep.equal([]);
    for (const file of FILES) expect(anchorSizesOf(load(file)), file).to.deep.equal(LISTED_ANCHOR_SIZES[file]);
  });

  it('the folder holds the R50 and R101 reference configs and the CPU-sized BCCD, COCO and quickstart configs', () => {
    expect(FILES).to.deep.equal([...REFERENCE, ...CPU_SIZED].sort());
  });

  for (const file of FILES) {
    it(`${file}: validates and builds; [1, 64, 96, 3] → clsLogits [1, R, K], R = (8*12 + 4*6 + 2*3 + 1*2 + 1*1) * 9 = 1161`, () => {
      const cfg = load(file);
      // K: the config's class list, or 7 (a count no dataset here has) when the classes come from the data.
      const k = cfg.data.classes ? cfg.data.classes.length : 7;
      const before = tf.memory().numTensors;
      const model = buildDetector(cfg, k);
      try {
        const x = tf.zeros([1, 64, 96, 3]) as tf.Tensor4D;
        const out = model.forward(x, { training: false });
        // Strides 8..128 (P3..P7): ceil(64/s) x ceil(96/s) = 8x12, 4x6, 2x3, 1x2, 1x1; 3 sizes x 3 ratios = 9 anchors.
        expect(out.clsLogits.shape).to.deep.equal([1, 1161, k]);
        expect(out.boxDeltas.shape).to.deep.equal([1, 1161, 4]);
        tf.dispose([x, out.clsLogits, out.boxDeltas]);
        expect(model.anchorsFor(64, 96).anchors.length).to.equal(1161 * 4);
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).to.equal(before);
    });
  }

  it('R50 and R101 differ only in the backbone depth and the output folder', () => {
    const a = JSON.parse(fs.readFileSync(path.join(DIR, 'retinanet_r50_fpn.json'), 'utf8'));
    const b = JSON.parse(fs.readFileSync(path.join(DIR, 'retinanet_r101_fpn.json'), 'utf8'));
    expect(diffKeys(a, b)).to.deep.equal(['model.backbone.name', 'train.outputDir']);
    expect([a.model.backbone.name, b.model.backbone.name]).to.deep.equal(['resnet50', 'resnet101']);
  });

  it('the BCCD config keeps R101\'s architecture and post-processing; it trains BatchNorm and every stage, at batch 1', () => {
    const a = JSON.parse(fs.readFileSync(path.join(DIR, 'retinanet_r101_fpn.json'), 'utf8'));
    const b = JSON.parse(fs.readFileSync(path.join(DIR, 'retinanet_r101_fpn_bccd.json'), 'utf8'));
    const keys = diffKeys(a, b);
    const allowed =
      /^(description|data\.|model\.backbone\.(normLayer|frozenStages)$|optimizer\.(baseLr|baseBatchSize|gradClipNorm)$|train\.(batchSize|numWorkers|logEvery|evalEvery|checkpointEvery|outputDir)$|schedule\.(maxIter|warmup\.iters|warmup\.factor)$)/;
    expect(keys.filter((k) => !allowed.test(k))).to.deep.equal([]);
    expect(b.data.format).to.equal('voc');
    expect(b.data.classes).to.deep.equal(['RBC', 'WBC', 'Platelets']);
    expect(b.data.evalShortEdge).to.equal(256);
    const bccd = load('retinanet_r101_fpn_bccd.json');
    expect([bccd.model.backbone.normLayer, bccd.model.backbone.frozenStages, bccd.train.batchSize]).to.deep.equal(['batch', 0, 1]);
    expect(scaledLr(bccd)).to.equal(0.005);
  });

  it('CPU-sized configs train BatchNorm (FrozenBatchNorm2d without ImageNet statistics is an identity) and clip gradients', () => {
    // From scratch, rare steps have gradient norms of 10^3-10^4. The quickstart clips at 1 with foreground IoU 0.6, as
    // the detection learning test does (test/tasks/detection.test.ts: at 10 the loss spiked, at 1 with IoU 0.5 it
    // stalled with shifted duplicate boxes); the longer BCCD and COCO runs clip at 10.
    const clip: Record<string, [number, number]> = {
      'retinanet_r101_fpn_bccd.json': [10, 0.5],
      'retinanet_r18_fpn_bccd_quickstart.json': [1, 0.6],
      'retinanet_r18_fpn_cocotiny.json': [10, 0.5],
    };
    expect(Object.keys(clip).sort()).to.deep.equal(CPU_SIZED);
    for (const file of CPU_SIZED) {
      const cfg = load(file);
      expect([cfg.model.backbone.normLayer, cfg.model.backbone.frozenStages], file).to.deep.equal(['batch', 0]);
      expect([cfg.optimizer.gradClipNorm, cfg.model.matcher.fgIouThresh], file).to.deep.equal(clip[file]);
      expect(cfg.description, file).to.be.a('string');
    }
  });

  it('reference 1x values: frozen BN, stem + layer1 frozen, lr 0.01 at batch 16 scaled linearly, warmup, steps at 2/3 and 8/9', () => {
    for (const file of REFERENCE) {
      const cfg = load(file);
      expect(cfg.model.backbone.normLayer, file).to.equal('frozen');
      expect(cfg.model.backbone.frozenStages, file).to.equal(1);
      expect([cfg.optimizer.baseLr, cfg.optimizer.baseBatchSize], file).to.deep.equal([0.01, 16]);
      expect(cfg.schedule.main, file).to.deep.equal({ kind: 'multistep', gamma: 0.1, milestoneFractions: [0.6667, 0.8889] });
      expect(cfg.schedule.warmup?.factor, file).to.equal(0.001);
      // torchvision's retinanet_resnet50_fpn: anchor sizes (s, int(s*2^(1/3)), int(s*2^(2/3))), s = 32..512; ratios 0.5, 1, 2.
      expect(anchorSizesOf(cfg), file).to.deep.equal([[32, 40, 50], [64, 80, 101], [128, 161, 203], [256, 322, 406], [512, 645, 812]]);
      expect(cfg.model.anchors.aspectRatios, file).to.deep.equal([0.5, 1, 2]);
    }
    const r50 = load('retinanet_r50_fpn.json');
    expect(scaledLr(r50)).to.equal(0.01);
    // 90000 iterations: milestones round(0.6667 * 90000) = 60003 and round(0.8889 * 90000) = 80001.
    const s = scheduleOf(r50);
    expect(learningRateAt(s, 60002)).to.be.closeTo(0.01, 1e-12);
    expect(learningRateAt(s, 60003)).to.be.closeTo(0.001, 1e-12);
    expect(learningRateAt(s, 80001)).to.be.closeTo(0.0001, 1e-12);
    // Warmup: linear from factor 0.001 at iteration 0 over 1000 iterations.
    expect(learningRateAt(s, 0)).to.be.closeTo(0.01 * 0.001, 1e-15);
  });

  it('validation: a VOC-only key in COCO data and an unknown key are errors naming the path', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(DIR, 'retinanet_r50_fpn.json'), 'utf8'));
    raw.data.imageExt = '.jpg';
    raw.model.fpn.outChannels = 256;
    expect(() => validateConfig(raw, 'x.json')).to.throw(ConfigError, /\/model\/fpn: unknown key 'outChannels'[\s\S]*\/data: unknown key 'imageExt'/);
    const voc = JSON.parse(fs.readFileSync(path.join(DIR, 'retinanet_r101_fpn_bccd.json'), 'utf8'));
    delete voc.data.use07Metric;
    expect(() => validateConfig(voc, 'y.json')).to.throw(ConfigError, /\/data: missing key 'use07Metric'/);
  });
});
