/**
 * Parity with torchvision's Faster R-CNN (fasterrcnn_resnet50_fpn architecture, K = 7 + background,
 * FrozenBatchNorm2d): scripts/parity/gen_faster_rcnn_golden.py fills every state tensor from the hash of
 * src/weights/hash_init.ts and records, on a hash input [2, 3, 128, 160] with content sizes 128 x 160 and
 * 120 x 150, the FPN levels, RPN outputs, anchors, proposals, RoIAlign features, box head outputs, detections and
 * losses (samplers taking the first candidates on both sides). The same weights are written as a torchvision-named
 * safetensors file and imported with the faster_rcnn name table.
 *
 * Tolerances: tensors and losses 1e-4 of the reference's scale (float32 accumulation across ~60 layers against a
 * float64 reference; a wrong transpose, name, flatten order or pooling convention gives errors of order 1).
 * Proposals and detections are compared as in the RetinaNet parity test: hash weights give near-equal scores, so
 * ranks are compared exactly where the reference's consecutive scores differ by more than float32 resolution, and
 * otherwise as sets (same label, box within 0.02 px, score within SCORE_TOLERANCE).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FasterRCNN, fasterrcnnResnet50Fpn } from '../../../heads/detection/faster_rcnn';
import { RoIs } from '../../../heads/detection/roi_heads';
import { buildRpnTargets, rpnLosses, selectProposals } from '../../../heads/detection/rpn';
import { firstSubsetSampler } from '../../../heads/detection/sampler';
import { FeatureMap, PyramidLevel } from '../../../src/backbone/features';
import { float32Checksum, hashStateBytes, hashTensorValues } from '../../../src/weights/hash_init';
import { writeSafetensors } from '../../../src/weights/safetensors';
import { loadTorchvisionWeights, torchStateSpec } from '../../../src/weights/torchvision';
import { expectNoLeak } from '../../helpers/tensors';

const GOLDEN = path.resolve(__dirname, '..', '..', 'golden', 'faster_rcnn_resnet50_fpn.json');
const TOLERANCE = 1e-4;
/**
 * Detection scores: softmax of class logits up to |19| (hash weights), whose float32 error (~2.5e-6 of their scale,
 * measured) moves a probability by up to ~3e-5.
 */
const SCORE_TOLERANCE = 1e-4;

interface Stats {
  shape: number[];
  sum: number;
  sumAbs: number;
  maxAbs: number;
  samples: number[][];
}
interface Golden {
  generator: string;
  torch: string;
  torchvision: string;
  numClasses: number;
  input: { name: string; shapeNchw: [number, number, number, number] };
  imageSizes: [number, number][];
  stateDict: [string, number[], 'F32' | 'I64', number][];
  fpn: Record<PyramidLevel, Stats>;
  rpn: { objectness: Record<PyramidLevel, Stats>; deltas: Record<PyramidLevel, Stats> };
  anchors: Record<PyramidLevel, { count: number; sum: number; samples: number[][] }>;
  proposals: { count: number; boxes: number[] }[];
  roiAlign: Stats;
  boxHead: { classLogits: Stats; boxRegression: Stats };
  detections: { count: number; robustPrefix: number; boxes: number[][]; scores: number[]; labels: number[] }[];
  targets: { boxes: number[][]; labels: number[] }[];
  losses: {
    rpn: { objectness: number; boxRegression: number };
    roiHeadsOnProposals: { classification: number; boxRegression: number };
    training: { rpnObjectness: number; rpnBoxRegression: number; classification: number; boxRegression: number };
  };
}

const LEVELS: PyramidLevel[] = ['P2', 'P3', 'P4', 'P5', 'P6'];

/** max |ours - ref| over the samples / max |ref|, and |sum - ref sum| / sum |ref|. */
function statErrors(v: ArrayLike<number>, g: Stats, index: (i: number[]) => number): { samples: number; sum: number } {
  expect(v.length).to.equal(g.shape.reduce((a, b) => a * b, 1));
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  let e = 0;
  for (const smp of g.samples) e = Math.max(e, Math.abs(v[index(smp.slice(0, -1))] - smp[smp.length - 1]));
  return { samples: e / g.maxAbs, sum: Math.abs(s - g.sum) / g.sumAbs };
}

/** Fraction of reference boxes (rows of 4) found among ours within `tol` px, each of ours used once. */
function boxSetAgreement(ours: ArrayLike<number>, ref: ArrayLike<number>, tol: number): number {
  const n = ours.length / 4;
  const used = new Uint8Array(n);
  let found = 0;
  for (let k = 0; k < ref.length / 4; k++) {
    for (let j = 0; j < n; j++) {
      if (used[j]) continue;
      if ([0, 1, 2, 3].every((c) => Math.abs(ours[4 * j + c] - ref[4 * k + c]) <= tol)) {
        used[j] = 1;
        found++;
        break;
      }
    }
  }
  return found / Math.max(1, ref.length / 4);
}

describe(`Faster R-CNN parity with torchvision (${path.basename(GOLDEN)})`, () => {
  const g = JSON.parse(fs.readFileSync(GOLDEN, 'utf-8')) as Golden;
  const [N, , H, W] = g.input.shapeNchw;
  const imageSizes = g.imageSizes.map(([height, width]) => ({ height, width }));
  const targets = g.targets.map((t) => ({ boxes: Float32Array.from(t.boxes.flat()), labels: Int32Array.from(t.labels) }));
  const goldenRois: RoIs = {
    boxes: Float32Array.from(g.proposals.flatMap((p) => p.boxes)),
    imageIndices: Int32Array.from(g.proposals.flatMap((p, i) => Array.from({ length: p.count }, () => i))),
  };
  const report: Record<string, number> = {};
  let model: FasterRCNN;
  let dir: string;
  let x: tf.Tensor4D;
  let features: FeatureMap<PyramidLevel>;
  let objectness: Float32Array;
  let deltas: Float32Array;

  before(async function () {
    this.timeout(600000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frcnn-parity-'));
    model = fasterrcnnResnet50Fpn({ numClasses: g.numClasses, sampler: firstSubsetSampler, backbone: { normLayer: 'frozen', frozenStages: 0 } });
    x = tf.tidy(() => tf.transpose(tf.tensor(hashTensorValues(g.input.name, g.input.shapeNchw), g.input.shapeNchw), [0, 2, 3, 1]) as tf.Tensor4D);
  });
  after(() => {
    if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ fasterRcnn: report }));
    model.dispose();
    x.dispose();
    if (features) tf.dispose(Object.values(features));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`state names, torch shapes and order equal torchvision's state_dict() (${g.generator}, torch ${g.torch}, torchvision ${g.torchvision})`, () => {
    expect(torchStateSpec(model, { family: 'faster_rcnn' }).map((s) => [s.name, s.shape, s.dtype])).to.deep.equal(g.stateDict.map(([n, s, d]) => [n, s, d]));
    const bad = g.stateDict.filter(([name, shape, dtype, sum]) => dtype === 'F32' && float32Checksum(hashTensorValues(name, shape)) !== sum);
    expect(bad.map((b) => b[0])).to.deep.equal([]);
  });

  it('imports the torchvision state dict (strict) and reproduces P2..P6 and RPN objectness and deltas per level', async function () {
    this.timeout(600000);
    const file = path.join(dir, 'faster_rcnn.safetensors');
    await writeSafetensors(file, g.stateDict.map(([name, shape, dtype]) => ({ name, dtype, shape, data: () => hashStateBytes(name, shape) })));
    const loaded = await loadTorchvisionWeights(model, file, { family: 'faster_rcnn' });
    expect(loaded.missing).to.deep.equal([]);
    expect(loaded.unexpected).to.deep.equal([]);
    expect(loaded.loaded.length).to.equal(g.stateDict.length);
    const out = model.forwardRpn(x, { training: false });
    features = out.features;
    objectness = out.rpn.objectness.dataSync() as Float32Array;
    deltas = out.rpn.deltas.dataSync() as Float32Array;
    const R = out.rpn.objectness.shape[1];
    tf.dispose([out.rpn.objectness, out.rpn.deltas]);
    for (const l of LEVELS) {
      const f = features[l];
      const [, C, h, w] = g.fpn[l].shape;
      expect(f.shape, l).to.deep.equal([N, h, w, C]);
      const e = statErrors(f.dataSync(), g.fpn[l], ([n, c, y, xx]) => ((n * h + y) * w + xx) * C + c);
      report[`fpn.${l}`] = Math.max(e.samples, e.sum);
    }
    let start = 0;
    for (const l of LEVELS) {
      const count = g.rpn.objectness[l].shape[1];
      const o = new Float32Array(N * count);
      const d = new Float32Array(N * count * 4);
      for (let n = 0; n < N; n++) {
        o.set(objectness.subarray(n * R + start, n * R + start + count), n * count);
        d.set(deltas.subarray(4 * (n * R + start), 4 * (n * R + start + count)), 4 * n * count);
      }
      const eo = statErrors(o, g.rpn.objectness[l], ([n, r]) => n * count + r);
      const ed = statErrors(d, g.rpn.deltas[l], ([n, r, k]) => (n * count + r) * 4 + k);
      report[`objectness.${l}`] = Math.max(eo.samples, eo.sum);
      report[`deltas.${l}`] = Math.max(ed.samples, ed.sum);
      start += count;
    }
    expect(start).to.equal(R);
    for (const [k, e] of Object.entries(report)) expect(e, k).to.be.at.most(TOLERANCE);
  });

  it('anchors equal torchvision AnchorGenerator exactly (one size per level, 3 ratios)', () => {
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

  it('proposals after NMS (inference top-n 1000/1000, NMS 0.7 per level): the same count and boxes', () => {
    const { anchors, counts } = model.anchorsFor(H, W);
    const props = selectProposals(objectness, deltas, anchors, counts, imageSizes, { preNmsTopN: 1000, postNmsTopN: 1000 });
    props.forEach((p, i) => {
      const ref = g.proposals[i];
      expect(p.scores.length, `image ${i} count`).to.equal(ref.count);
      const agree = boxSetAgreement(p.boxes, ref.boxes, 0.02);
      report[`proposals.${i}`] = agree;
      expect(agree, `image ${i} proposals found`).to.be.at.least(0.98);
    });
  });

  it('MultiScaleRoIAlign features and box head outputs on the reference proposals', async () => {
    const pooled = model.roiHeads.boxRoiPool.forward(features, goldenRois);
    const [R, C, S] = g.roiAlign.shape;
    expect(pooled.shape).to.deep.equal([R, S, S, C]);
    const ep = statErrors(pooled.dataSync(), g.roiAlign, ([r, c, y, xx]) => ((r * S + y) * S + xx) * C + c);
    report.roiAlign = Math.max(ep.samples, ep.sum);
    pooled.dispose();
    const out = model.roiHeads.forward(features, goldenRois);
    const K1 = g.numClasses + 1;
    const ec = statErrors(out.classLogits.dataSync(), g.boxHead.classLogits, ([r, k]) => r * K1 + k);
    const eb = statErrors(out.boxDeltas.dataSync(), g.boxHead.boxRegression, ([r, k]) => r * 4 * K1 + k);
    report.classLogits = Math.max(ec.samples, ec.sum);
    report.boxRegression = Math.max(eb.samples, eb.sum);
    for (const k of ['roiAlign', 'classLogits', 'boxRegression']) expect(report[k], k).to.be.at.most(TOLERANCE);

    // Detections from our outputs (postprocess_detections: score 0.05, class-wise NMS 0.5, 100 per image).
    const dets = model.roiHeads.postprocess(out.classLogits.dataSync() as Float32Array, out.boxDeltas.dataSync() as Float32Array, goldenRois, imageSizes);
    tf.dispose([out.classLogits, out.boxDeltas]);
    g.detections.forEach((gd, i) => {
      const d = dets[i];
      expect(d.scores.length, `image ${i} count`).to.equal(gd.count);
      for (let k = 0; k < gd.robustPrefix; k++) {
        expect(d.labels[k], `image ${i} rank ${k} label`).to.equal(gd.labels[k]);
        expect(d.scores[k], `image ${i} rank ${k} score`).to.be.closeTo(gd.scores[k], SCORE_TOLERANCE);
        for (let c = 0; c < 4; c++) expect(d.boxes[4 * k + c], `image ${i} rank ${k} box`).to.be.closeTo(gd.boxes[k][c], 0.02);
      }
      let matched = 0;
      const used = new Uint8Array(d.scores.length);
      gd.labels.forEach((label, k) => {
        for (let j = 0; j < d.scores.length; j++) {
          if (used[j] || d.labels[j] !== label || Math.abs(d.scores[j] - gd.scores[k]) > SCORE_TOLERANCE) continue;
          if ([0, 1, 2, 3].every((c) => Math.abs(d.boxes[4 * j + c] - gd.boxes[k][c]) <= 0.02)) {
            used[j] = 1;
            matched++;
            break;
          }
        }
      });
      report[`detections.${i}`] = matched / gd.count;
      expect(matched / gd.count, `image ${i} detections found`).to.be.at.least(0.95);
    });
    await expectNoLeak(() => {
      const o = model.roiHeads.forward(features, goldenRois);
      tf.dispose([o.classLogits, o.boxDeltas]);
    });
  });

  it('predict end to end (our proposals, then our detections) gives torchvision\'s detections', async function () {
    this.timeout(600000);
    const { detections } = await model.predictWithProposals({ images: x, imageSizes });
    detections.forEach((d, i) => {
      const gd = g.detections[i];
      expect(d.scores.length, `image ${i} count`).to.equal(gd.count);
      const agree = boxSetAgreement(d.boxes, gd.boxes.flat(), 0.02);
      report[`predict.${i}`] = agree;
      expect(agree, `image ${i} detections found`).to.be.at.least(0.95);
      for (let k = 0; k < gd.robustPrefix; k++) expect(d.labels[k], `image ${i} rank ${k} label`).to.equal(gd.labels[k]);
    });
  });

  const pth = process.env.RESVISION_FASTER_RCNN_PTH;
  (pth ? it : it.skip)(
    `a torch.save'd fasterrcnn_resnet50_fpn state dict (${pth ?? 'set RESVISION_FASTER_RCNN_PTH; the 160 MB file is made by the generator with --save-pth'}) loads and gives the same detections`,
    async function () {
      this.timeout(600000);
      const other = fasterrcnnResnet50Fpn({ numClasses: g.numClasses, backbone: { normLayer: 'frozen', frozenStages: 0 } });
      try {
        const loaded = await loadTorchvisionWeights(other, pth!, { family: 'faster_rcnn' });
        expect(loaded.missing).to.deep.equal([]);
        expect(loaded.unexpected).to.deep.equal([]);
        const dets = await other.predict({ images: x, imageSizes });
        dets.forEach((d, i) => {
          const agree = boxSetAgreement(d.boxes, g.detections[i].boxes.flat(), 0.02);
          report[`pth.${i}`] = agree;
          expect(agree, `image ${i}`).to.be.at.least(0.95);
        });
      } finally {
        other.dispose();
      }
    },
  );

  it('RPN losses (sampling the first 256 anchors, 50% positive) equal torchvision compute_loss', () => {
    const { anchors } = model.anchorsFor(H, W);
    const R = anchors.length / 4;
    const t = buildRpnTargets(anchors, targets, model.rpnMatcher, firstSubsetSampler);
    const out = { objectness: tf.tensor2d(objectness, [N, R]), deltas: tf.tensor3d(deltas, [N, R, 4]) };
    const l = rpnLosses(out, t);
    const o = l.rpnObjectness.dataSync()[0];
    const b = l.rpnBoxRegression.dataSync()[0];
    tf.dispose([out.objectness, out.deltas, l.rpnObjectness, l.rpnBoxRegression]);
    report.rpnObjectness = Math.abs(o - g.losses.rpn.objectness) / g.losses.rpn.objectness;
    report.rpnBoxRegression = Math.abs(b - g.losses.rpn.boxRegression) / g.losses.rpn.boxRegression;
    expect(report.rpnObjectness, 'objectness').to.be.at.most(TOLERANCE);
    expect(report.rpnBoxRegression, 'box regression').to.be.at.most(TOLERANCE);
  });

  it('RoI-head losses on the reference proposals (ground truth appended, 512 RoIs at 25%, first candidates) equal torchvision', () => {
    const props = g.proposals.map((p) => Float32Array.from(p.boxes));
    const samples = model.roiHeads.selectTrainingSamples(props, targets, firstSubsetSampler);
    const out = model.roiHeads.forward(features, samples);
    const l = model.roiHeads.losses(out, samples);
    const c = l.classification.dataSync()[0];
    const b = l.boxRegression.dataSync()[0];
    tf.dispose([out.classLogits, out.boxDeltas, l.classification, l.boxRegression]);
    const ref = g.losses.roiHeadsOnProposals;
    report.roiClassification = Math.abs(c - ref.classification) / ref.classification;
    report.roiBoxRegression = Math.abs(b - ref.boxRegression) / ref.boxRegression;
    expect(report.roiClassification, 'classification').to.be.at.most(TOLERANCE);
    expect(report.roiBoxRegression, 'box regression').to.be.at.most(TOLERANCE);
  });

  it('computeLosses of the whole training forward (RPN training top-n 2000/2000 feeding the RoI heads) equals torchvision', function () {
    this.timeout(600000);
    const l = model.computeLosses({ images: x, targets, imageSizes }, { training: true });
    const ours = {
      rpnObjectness: l.rpnObjectness.dataSync()[0],
      rpnBoxRegression: l.rpnBoxRegression.dataSync()[0],
      classification: l.classification.dataSync()[0],
      boxRegression: l.boxRegression.dataSync()[0],
    };
    tf.dispose(Object.values(l));
    for (const [k, v] of Object.entries(ours)) {
      const ref = g.losses.training[k as keyof typeof ours];
      report[`training.${k}`] = Math.abs(v - ref) / ref;
      expect(report[`training.${k}`], k).to.be.at.most(TOLERANCE);
    }
  });
});
