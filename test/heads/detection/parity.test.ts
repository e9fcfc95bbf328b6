/**
 * Parity with torchvision's RetinaNet v1 (retinanet_resnet50_fpn architecture, num_classes 7, FrozenBatchNorm2d):
 * scripts/parity/gen_retinanet_golden.py fills every state tensor from the hash of src/weights/hash_init.ts and
 * records FPN outputs, head outputs, anchors, detections, matches and losses on a hash input [2, 3, 96, 128].
 * Here the same weights are written as a torchvision-named safetensors file, imported with the retinanet name
 * table, and run on the same input.
 *
 * Tolerances: the reference is a float64 forward of the float32 numbers; torch's own float32 forward deviates by
 * ~1e-6 relative (recorded per level). Tensors and losses: max |ours - reference| / max |reference| <= 1e-4
 * (float32 accumulation order across ~60 layers; a wrong transpose, name or padding gives errors of order 1).
 * Detections: with hash weights the top scores saturate (0.993..0.9997) and consecutive scores can differ by less
 * than float32 resolution, so ranks are compared exactly only over each image's `robustPrefix` (before the first
 * score gap < 1e-6); the rest is compared as a set (same label, box within 0.02 px, score within 1e-5), which
 * must hold for at least 95% of the stored detections. Exact post-processing semantics are tested separately on
 * synthetic outputs (postprocess.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BoxCoder } from '../../../heads/detection/box_coder';
import { retinaNetLosses } from '../../../heads/detection/losses';
import { RetinaNet, retinanetResnet50Fpn } from '../../../heads/detection/model';
import { Detections, detectionsToOriginal, postprocessDetections } from '../../../heads/detection/postprocess';
import { PyramidLevel } from '../../../src/backbone/features';
import { float32Checksum, hashStateBytes, hashTensorValues } from '../../../src/weights/hash_init';
import { writeSafetensors } from '../../../src/weights/safetensors';
import { loadTorchvisionWeights, torchStateSpec } from '../../../src/weights/torchvision';
import { expectNoLeak } from '../../helpers/tensors';

const GOLDEN = path.resolve(__dirname, '..', '..', 'golden', 'retinanet_resnet50_fpn.json');
const TOLERANCE = 1e-4;

interface Stats {
  shape: number[];
  sum: number;
  sumAbs: number;
  mean: number;
  maxAbs: number;
  samples: number[][];
}
interface DetGolden {
  count: number;
  stored: number;
  robustPrefix: number;
  boxes: number[][];
  boxesOriginal: number[][];
  scores: number[];
  labels: number[];
}
interface Golden {
  generator: string;
  torch: string;
  torchvision: string;
  numClasses: number;
  input: { name: string; shapeNchw: [number, number, number, number] };
  imageSizes: [number, number][];
  originalSizes: [number, number][];
  stateDict: [string, number[], 'F32' | 'I64', number][];
  fpn: Record<PyramidLevel, Stats>;
  head: { clsLogits: Record<PyramidLevel, Stats>; boxDeltas: Record<PyramidLevel, Stats> };
  anchors: Record<PyramidLevel, { count: number; sum: number; samples: number[][] }>;
  detections: DetGolden[];
  targets: { boxes: number[][]; labels: number[] }[];
  matches: { foreground: [number, number][]; ignored: number[]; numAnchors: number }[];
  losses: Record<'l1' | 'giou', { classification: number; boxRegression: number }>;
}

const LEVELS: PyramidLevel[] = ['P3', 'P4', 'P5', 'P6', 'P7'];

/** Relative errors (samples, sum) of a row-major array `v` with shape `shape` against golden stats. */
function statErrors(v: Float32Array, shape: number[], g: Stats, index: (i: number[]) => number): { samples: number; sum: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  let e = 0;
  for (const smp of g.samples) e = Math.max(e, Math.abs(v[index(smp.slice(0, -1))] - smp[smp.length - 1]));
  expect(v.length).to.equal(g.shape.reduce((a, b) => a * b, 1));
  void shape;
  return { samples: e / g.maxAbs, sum: Math.abs(s - g.sum) / g.sumAbs };
}

describe(`RetinaNet parity with torchvision (${path.basename(GOLDEN)})`, () => {
  const g = JSON.parse(fs.readFileSync(GOLDEN, 'utf-8')) as Golden;
  let model: RetinaNet;
  let dir: string;
  let x: tf.Tensor4D;
  const [N, , H, W] = g.input.shapeNchw;
  let ours: { logits: Float32Array; deltas: Float32Array; fpn: Record<string, { v: Float32Array; shape: number[] }> };

  before(async function () {
    this.timeout(300000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retinanet-parity-'));
    model = retinanetResnet50Fpn({ numClasses: g.numClasses, backbone: { normLayer: 'frozen', frozenStages: 0 } });
    x = tf.tidy(() => tf.transpose(tf.tensor(hashTensorValues(g.input.name, g.input.shapeNchw), g.input.shapeNchw), [0, 2, 3, 1]) as tf.Tensor4D);
  });
  after(() => {
    model.dispose();
    x.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`state names, torch shapes and order equal torchvision's state_dict() (${g.generator}, torch ${g.torch}, torchvision ${g.torchvision})`, () => {
    expect(torchStateSpec(model, { family: 'retinanet' }).map((s) => [s.name, s.shape, s.dtype])).to.deep.equal(g.stateDict.map(([n, s, d]) => [n, s, d]));
    const bad = g.stateDict.filter(([name, shape, dtype, sum]) => dtype === 'F32' && float32Checksum(hashTensorValues(name, shape)) !== sum);
    expect(bad.map((b) => b[0])).to.deep.equal([]);
  });

  it('imports the torchvision state dict (strict) and reproduces P3..P7 and head outputs per level', async function () {
    this.timeout(300000);
    const file = path.join(dir, 'retinanet.safetensors');
    await writeSafetensors(file, g.stateDict.map(([name, shape, dtype]) => ({ name, dtype, shape, data: () => hashStateBytes(name, shape) })));
    const report = await loadTorchvisionWeights(model, file, { family: 'retinanet' });
    expect(report.missing).to.deep.equal([]);
    expect(report.unexpected).to.deep.equal([]);
    expect(report.loaded.length).to.equal(g.stateDict.length);

    const errors: Record<string, number> = {};
    await expectNoLeak(async () => {
      const feats = model.backbone.forward(x, { training: false });
      const out = model.head.forward(feats, model.levels);
      try {
        const fpn: Record<string, { v: Float32Array; shape: number[] }> = {};
        for (const l of LEVELS) {
          const f = feats[l];
          const [, C, h, w] = g.fpn[l].shape;
          expect(f.shape, l).to.deep.equal([N, h, w, C]);
          const v = (await f.data()) as Float32Array;
          fpn[l] = { v, shape: f.shape };
          const e = statErrors(v, f.shape, g.fpn[l], ([n, c, y, xx]) => ((n * h + y) * w + xx) * C + c);
          errors[`fpn.${l}.samples`] = e.samples;
          errors[`fpn.${l}.sum`] = e.sum;
        }
        const logits = (await out.clsLogits.data()) as Float32Array;
        const deltas = (await out.boxDeltas.data()) as Float32Array;
        const R = out.clsLogits.shape[1];
        let start = 0;
        for (const l of LEVELS) {
          const count = g.head.clsLogits[l].shape[1];
          for (const [key, arr, k] of [['clsLogits', logits, g.numClasses], ['boxDeltas', deltas, 4]] as const) {
            const lv = new Float32Array(N * count * k);
            for (let n = 0; n < N; n++) lv.set(arr.subarray((n * R + start) * k, (n * R + start + count) * k), n * count * k);
            const e = statErrors(lv, [N, count, k], g.head[key][l], ([n, r, c]) => (n * count + r) * k + c);
            errors[`${key}.${l}.samples`] = e.samples;
            errors[`${key}.${l}.sum`] = e.sum;
          }
          start += count;
        }
        expect(start).to.equal(R);
        ours = { logits, deltas, fpn };
      } finally {
        tf.dispose([...Object.values(feats), out.clsLogits, out.boxDeltas]);
      }
    });
    if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ retinanet: errors }));
    for (const [k, e] of Object.entries(errors)) expect(e, k).to.be.at.most(TOLERANCE);
  });

  it('anchors equal torchvision AnchorGenerator exactly (counts, sums, samples; P6 stride 48 x 64 on 96 x 128)', () => {
    const { anchors, counts } = model.anchorsFor(H, W);
    let start = 0;
    LEVELS.forEach((l, i) => {
      const ga = g.anchors[l];
      expect(counts[i], l).to.equal(ga.count);
      let s = 0;
      for (let j = 4 * start; j < 4 * (start + ga.count); j++) s += anchors[j];
      expect(s, `${l} sum`).to.equal(ga.sum);
      for (const [r, c, v] of ga.samples) expect(anchors[4 * (start + r) + c], `${l} [${r}, ${c}]`).to.equal(v);
      start += ga.count;
    });
  });

  it('matcher: foreground (anchor, gt) pairs and ignored anchors equal torchvision exactly', () => {
    const { anchors } = model.anchorsFor(H, W);
    g.targets.forEach((t, i) => {
      const gm = g.matches[i];
      expect(anchors.length / 4).to.equal(gm.numAnchors);
      const m = model.matcher.match(
        (() => {
          // boxIou via the same path the loss uses.
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { boxIou } = require('../../../src/ops/iou') as typeof import('../../../src/ops/iou');
          return boxIou(Float32Array.from(t.boxes.flat()), anchors);
        })(),
        t.labels.length,
      );
      const fg: [number, number][] = [];
      const ign: number[] = [];
      m.forEach((v, a) => (v >= 0 ? fg.push([a, v]) : v === -2 ? ign.push(a) : undefined));
      expect(fg, `image ${i} foreground`).to.deep.equal(gm.foreground);
      expect(ign, `image ${i} ignored`).to.deep.equal(gm.ignored);
    });
  });

  for (const kind of ['l1', 'giou'] as const) {
    it(`losses (${kind} box loss) equal torchvision compute_loss within ${TOLERANCE}`, async () => {
      const { anchors } = model.anchorsFor(H, W);
      const R = anchors.length / 4;
      const outputs = {
        clsLogits: tf.tensor3d(ours.logits, [N, R, g.numClasses]),
        boxDeltas: tf.tensor3d(ours.deltas, [N, R, 4]),
      };
      const targets = g.targets.map((t) => ({ boxes: Float32Array.from(t.boxes.flat()), labels: Int32Array.from(t.labels) }));
      const values: number[] = [];
      await expectNoLeak(async () => {
        const l = retinaNetLosses(outputs, anchors, targets, model.matcher, new BoxCoder(), { boxLoss: { kind } });
        values.splice(0, 2, (await l.classification.data())[0], (await l.boxRegression.data())[0]);
        tf.dispose([l.classification, l.boxRegression]);
      });
      tf.dispose([outputs.clsLogits, outputs.boxDeltas]);
      const ref = g.losses[kind];
      if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ kind, ours: values, ref }));
      expect(Math.abs(values[0] - ref.classification) / ref.classification, 'classification').to.be.at.most(TOLERANCE);
      expect(Math.abs(values[1] - ref.boxRegression) / ref.boxRegression, 'boxRegression').to.be.at.most(TOLERANCE);
    });
  }

  it('detections: exact ranks over the robust prefix, set agreement on the rest; mapping to original sizes', () => {
    const { anchors, counts } = model.anchorsFor(H, W);
    const dets = postprocessDetections(
      ours.logits,
      ours.deltas,
      anchors,
      counts,
      g.numClasses,
      g.imageSizes.map(([height, width]) => ({ height, width })),
      new BoxCoder(),
    );
    const report: Record<string, number> = {};
    g.detections.forEach((gd, i) => {
      const d: Detections = dets[i];
      expect(d.scores.length, `image ${i} count`).to.equal(gd.count);
      for (let k = 0; k < gd.robustPrefix; k++) {
        expect(d.labels[k], `image ${i} rank ${k} label`).to.equal(gd.labels[k]);
        expect(d.scores[k], `image ${i} rank ${k} score`).to.be.closeTo(gd.scores[k], 1e-5);
        for (let c = 0; c < 4; c++) expect(d.boxes[4 * k + c], `image ${i} rank ${k} box`).to.be.closeTo(gd.boxes[k][c], 0.02);
      }
      let matched = 0;
      const used = new Uint8Array(d.scores.length);
      for (let k = 0; k < gd.stored; k++) {
        for (let j = 0; j < d.scores.length; j++) {
          if (used[j] || d.labels[j] !== gd.labels[k] || Math.abs(d.scores[j] - gd.scores[k]) > 1e-5) continue;
          if ([0, 1, 2, 3].every((c) => Math.abs(d.boxes[4 * j + c] - gd.boxes[k][c]) <= 0.02)) {
            used[j] = 1;
            matched++;
            break;
          }
        }
      }
      report[`image${i}.matched`] = matched / gd.stored;
      expect(matched / gd.stored, `image ${i} detections found`).to.be.at.least(0.95);
      // torchvision transform.postprocess: boxes * (original / resized size).
      const [oh, ow] = g.originalSizes[i];
      const [h, w] = g.imageSizes[i];
      const back = detectionsToOriginal(d, {
        originalHeight: oh,
        originalWidth: ow,
        cropXyxy: [0, 0, ow, oh],
        scaleX: w / ow,
        scaleY: h / oh,
        flipped: false,
        padding: { top: 0, left: 0 },
        validRegionXyxy: [0, 0, w, h],
      });
      for (let k = 0; k < gd.robustPrefix; k++) {
        for (let c = 0; c < 4; c++) expect(back.boxes[4 * k + c]).to.be.closeTo(gd.boxesOriginal[k][c], 0.02 * Math.max(oh / h, ow / w));
      }
    });
    if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ detections: report, prefix: g.detections.map((d) => d.robustPrefix) }));
  });
});
