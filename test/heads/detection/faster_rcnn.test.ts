/**
 * Faster R-CNN components on hand-made inputs (sampler, level mapper, proposal selection, RoI sampling and
 * post-processing) and the model on a small ResNet-18 FPN (contracts, gradients, predict, errors, leaks). Values
 * against torchvision are in faster_rcnn_parity.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { FasterRCNN, fasterrcnnResnet18Fpn } from '../../../heads/detection/faster_rcnn';
import { RoIHeads, mapRoiLevels } from '../../../heads/detection/roi_heads';
import { selectProposals } from '../../../heads/detection/rpn';
import { balancedSample, firstSubsetSampler, randomSubsetSampler } from '../../../heads/detection/sampler';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hashStateBytes } from '../../../src/weights/hash_init';
import { writeSafetensors } from '../../../src/weights/safetensors';
import { exportTorchvisionWeights, loadTorchvisionWeights, torchStateSpec } from '../../../src/weights/torchvision';
import { expectNoLeak, seededFloats } from '../../helpers/tensors';

describe('balancedSample', () => {
  it('first candidates: at most batch * fraction positives, the rest negatives, -1 never drawn', () => {
    // labels: positives at 1, 4, 6; negatives at 0, 2, 5, 7, 8; ignored at 3.
    const labels = [0, 2, 0, -1, 1, 0, 3, 0, 0];
    const s = balancedSample(labels, 4, 0.5, firstSubsetSampler);
    expect(Array.from(s.positive)).to.deep.equal([1, 4]);
    expect(Array.from(s.negative)).to.deep.equal([0, 2]);
    // Too few positives: the negatives fill the batch (torchvision's num_neg = batch - num_pos).
    const t = balancedSample([0, 0, 0, 1, 0, 0], 4, 0.75, firstSubsetSampler);
    expect(Array.from(t.positive)).to.deep.equal([3]);
    expect(Array.from(t.negative)).to.deep.equal([0, 1, 2]);
  });

  it('random sampler: distinct draws, ascending output, repeatable from the seed, varying across calls', () => {
    const labels = Array.from({ length: 100 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const a = randomSubsetSampler(7);
    const b = randomSubsetSampler(7);
    const s1 = balancedSample(labels, 16, 0.25, a);
    const s2 = balancedSample(labels, 16, 0.25, b);
    const s3 = balancedSample(labels, 16, 0.25, a);
    expect(s1.positive.length).to.equal(4);
    expect(s1.negative.length).to.equal(12);
    expect(new Set(s1.negative).size).to.equal(12);
    expect(Array.from(s1.negative)).to.deep.equal(Array.from(s1.negative).sort((x, y) => x - y));
    for (const i of s1.negative) expect(labels[i]).to.equal(0);
    expect(Array.from(s1.negative)).to.deep.equal(Array.from(s2.negative));
    expect(Array.from(s3.negative)).to.not.deep.equal(Array.from(s1.negative));
  });
});

describe('mapRoiLevels (FPN Eq. 1, canonical 224 at level 4, levels 2..5)', () => {
  it('hand-derived levels', () => {
    // sqrt(area) 224 -> 4 + log2(1) = 4 -> index 2; 112 -> 3 -> 1; 448 -> 5 -> 3; 223 -> floor(3.9936) = 3 -> 1;
    // 10 -> floor(-0.49) = -1 -> clamp 2 -> 0; 1000 -> floor(6.16) -> clamp 5 -> 3; 56 -> 2 -> 0.
    const boxes = [0, 0, 224, 224, 5, 5, 117, 117, 0, 0, 448, 448, 0, 0, 223, 223, 3, 3, 13, 13, 0, 0, 1000, 1000, 0, 0, 56, 56];
    expect(Array.from(mapRoiLevels(boxes, 2, 5))).to.deep.equal([2, 1, 3, 1, 0, 3, 0]);
  });
});

describe('selectProposals', () => {
  it('per-level top-n, decoding, clipping, small boxes dropped, NMS within a level only, post-NMS top-n', () => {
    // Two levels, one image 20 x 20. Level 0: anchors a0 = [0,0,10,10], a1 = [1,0,11,10] (IoU 9/11 > 0.7 with a0),
    // a2 = [0,0,10,0.0001] (height below min size after decoding), a3 = [15,15,30,30] (clipped to [15,15,20,20]).
    // Level 1: a4 = [0,0,10,10] (the same box as a0, but NMS is per level: kept).
    // Zero deltas decode to the anchors. Objectness: a0 3, a1 2, a2 5, a3 1, a4 0.5.
    const anchors = Float32Array.from([0, 0, 10, 10, 1, 0, 11, 10, 0, 0, 10, 0.0001, 15, 15, 30, 30, 0, 0, 10, 10]);
    const obj = Float32Array.from([3, 2, 5, 1, 0.5]);
    const deltas = new Float32Array(20);
    const size = [{ height: 20, width: 20 }];
    const p = selectProposals(obj, deltas, anchors, [4, 1], size, { preNmsTopN: 4, postNmsTopN: 10 });
    // Kept: a0 (3), a3 (1, clipped), a4 (0.5); a1 suppressed by a0; a2 too small. Highest score first.
    expect(Array.from(p[0].boxes)).to.deep.equal([0, 0, 10, 10, 15, 15, 20, 20, 0, 0, 10, 10]);
    expect(p[0].scores[0]).to.be.closeTo(1 / (1 + Math.exp(-3)), 1e-7);
    // preNmsTopN 1: level 0 keeps only a2 (objectness 5), which is too small: a4 alone remains.
    const q = selectProposals(obj, deltas, anchors, [4, 1], size, { preNmsTopN: 1, postNmsTopN: 10 });
    expect(Array.from(q[0].boxes)).to.deep.equal([0, 0, 10, 10]);
    // postNmsTopN 2 keeps the two best.
    expect(selectProposals(obj, deltas, anchors, [4, 1], size, { preNmsTopN: 4, postNmsTopN: 2 })[0].scores.length).to.equal(2);
    expect(() => selectProposals(obj, deltas, anchors, [3, 1], size, { preNmsTopN: 4, postNmsTopN: 2 })).to.throw(/do not sum to R = 5/);
  });
});

describe('RoIHeads target selection and post-processing (K = 2, hand-made)', () => {
  const specs = { P2: { channels: 4, stride: 4 }, P3: { channels: 4, stride: 8 }, P4: { channels: 4, stride: 16 }, P5: { channels: 4, stride: 32 } };
  let heads: RoIHeads;
  before(() => {
    heads = new RoIHeads({ numClasses: 2, levels: ['P2', 'P3', 'P4', 'P5'], specs, representationSize: 8, batchSizePerImage: 4, positiveFraction: 0.5 });
  });
  after(() => heads.dispose());

  it('selectTrainingSamples: ground truth appended, IoU >= 0.5 foreground with label + 1, below background, weighted deltas', () => {
    // Proposals: p0 = gt exactly (IoU 1), p1 = [0,0,10,20] (IoU 0.5 with gt [0,0,10,10]? no: 100/200 = 0.5 -> fg),
    // p2 = [20,20,30,30] (IoU 0, background), p3 = [5,0,15,10] (IoU 50/150 = 1/3, background).
    // With the gt appended as p4, labels are [2, 2, 0, 0, 2]; batch 4 at 50%: positives p0, p1; negatives p2, p3.
    const proposals = [Float32Array.from([0, 0, 10, 10, 0, 0, 10, 20, 20, 20, 30, 30, 5, 0, 15, 10])];
    const gt = [{ boxes: Float32Array.from([0, 0, 10, 10]), labels: Int32Array.from([1]) }];
    const s = heads.selectTrainingSamples(proposals, gt, firstSubsetSampler);
    expect(Array.from(s.labels)).to.deep.equal([2, 2, 0, 0]);
    expect(Array.from(s.imageIndices)).to.deep.equal([0, 0, 0, 0]);
    expect(Array.from(s.boxes.subarray(0, 8))).to.deep.equal([0, 0, 10, 10, 0, 0, 10, 20]);
    // p1 -> gt: dx = 10 * 0 / 10 = 0, dy = 10 * (5 - 10) / 20 = -2.5, dw = 5 log(10 / 10) = 0, dh = 5 log(10 / 20).
    const want = [0, 0, 0, 0, 0, -2.5, 0, 5 * Math.log(0.5), 0, 0, 0, 0, 0, 0, 0, 0];
    Array.from(s.regressionTargets).forEach((v, i) => expect(v, `target ${i}`).to.be.closeTo(want[i], 1e-6));
  });

  it('postprocess: softmax, background dropped, per-class decoding with weights (10, 10, 5, 5), clipping, class-wise NMS', () => {
    // Three RoIs in one 40 x 40 image. RoI 0 = [0,0,10,10]: logits [0, ln 8, 0] -> probs [0.1, 0.8, 0.1]; its
    // class 1 delta (10, 0, 0, 0) moves it by one width: [10, 0, 20, 10]; class 2 (delta 0) stays [0,0,10,10].
    // RoI 1 = [30,30,50,50] (beyond the image): logits [0, ln 0.4, ln 8.6] -> probs [0.1, 0.04, 0.86]; class 2 box
    // clipped to [30, 30, 40, 40]; class 1 (0.04) is below the threshold.
    // RoI 2 = RoI 0 with probs [0.1, 0.4, 0.5] and the same deltas: its class 1 box (0.4) is suppressed by RoI 0's
    // (0.8, same class, IoU 1); its class 2 box (0.5) suppresses RoI 0's (0.1).
    const rois = { boxes: Float32Array.from([0, 0, 10, 10, 30, 30, 50, 50, 0, 0, 10, 10]), imageIndices: Int32Array.from([0, 0, 0]) };
    const logits = Float32Array.from([0, Math.log(8), 0, 0, Math.log(0.4), Math.log(8.6), 0, Math.log(4), Math.log(5)]);
    const deltas = new Float32Array(3 * 12);
    deltas[4] = 10;
    deltas[24 + 4] = 10;
    const [d] = heads.postprocess(logits, deltas, rois, [{ height: 40, width: 40 }]);
    expect(Array.from(d.labels)).to.deep.equal([1, 0, 1]);
    const scores = Array.from(d.scores);
    [0.86, 0.8, 0.5].forEach((v, i) => expect(scores[i]).to.be.closeTo(v, 1e-6));
    const boxes = Array.from(d.boxes);
    [30, 30, 40, 40, 10, 0, 20, 10, 0, 0, 10, 10].forEach((v, i) => expect(boxes[i], `box value ${i}`).to.be.closeTo(v, 1e-4));
  });
});

describe('FasterRCNN (ResNet-18 FPN, K = 3, 64 x 96 input)', () => {
  let model: FasterRCNN;
  const small = { numClasses: 3, fpnChannels: 32, roiHeads: { representationSize: 64 }, sampler: firstSubsetSampler };
  const targets = [
    { boxes: Float32Array.from([4, 6, 40, 50, 50, 10, 90, 60]), labels: Int32Array.from([0, 2]) },
    { boxes: new Float32Array(0), labels: new Int32Array(0) },
  ];
  before(() => {
    model = fasterrcnnResnet18Fpn({ ...small, backbone: { normLayer: 'frozen', frozenStages: 1 } });
  });
  after(() => model.dispose());

  it('state names: backbone.body, backbone.fpn (4 blocks, P6 by max-pool), rpn.head, roi_heads.box_head fc6/fc7, box_predictor', () => {
    const names = model.stateEntries().map((e) => e.name);
    expect(names.filter((n) => !n.startsWith('backbone.body.'))).to.deep.equal([
      ...[0, 1, 2, 3].flatMap((i) => [`backbone.fpn.inner_blocks.${i}.0.weight`, `backbone.fpn.inner_blocks.${i}.0.bias`]),
      ...[0, 1, 2, 3].flatMap((i) => [`backbone.fpn.layer_blocks.${i}.0.weight`, `backbone.fpn.layer_blocks.${i}.0.bias`]),
      'rpn.head.conv.0.0.weight', 'rpn.head.conv.0.0.bias', 'rpn.head.cls_logits.weight', 'rpn.head.cls_logits.bias',
      'rpn.head.bbox_pred.weight', 'rpn.head.bbox_pred.bias',
      'roi_heads.box_head.fc6.weight', 'roi_heads.box_head.fc6.bias', 'roi_heads.box_head.fc7.weight', 'roi_heads.box_head.fc7.bias',
      'roi_heads.box_predictor.cls_score.weight', 'roi_heads.box_predictor.cls_score.bias',
      'roi_heads.box_predictor.bbox_pred.weight', 'roi_heads.box_predictor.bbox_pred.bias',
    ]);
    const byName = new Map(model.stateEntries().map((e) => [e.name, e.variable.shape]));
    expect(byName.get('roi_heads.box_head.fc6.weight')).to.deep.equal([32 * 7 * 7, 64]);
    expect(byName.get('roi_heads.box_predictor.cls_score.weight')).to.deep.equal([64, 4]);
    expect(byName.get('roi_heads.box_predictor.bbox_pred.weight')).to.deep.equal([64, 16]);
    expect(byName.get('rpn.head.bbox_pred.weight')).to.deep.equal([1, 1, 32, 12]);
    expect(model.levels).to.deep.equal(['P2', 'P3', 'P4', 'P5', 'P6']);
    // The entries sized by K, which fine-tuning to another class count re-initializes: the predictor's, all of them.
    expect(names.filter((n) => model.classifierKeys.some((k) => n.startsWith(k)))).to.deep.equal([
      'roi_heads.box_predictor.cls_score.weight', 'roi_heads.box_predictor.cls_score.bias',
      'roi_heads.box_predictor.bbox_pred.weight', 'roi_heads.box_predictor.bbox_pred.bias',
    ]);
    expect(model.sizeDivisibility).to.equal(32);
  });

  it('x=[2,64,96,3]: RPN outputs [2, R] and [2, R, 4] with R = 3 * sum(Hi * Wi) over P2..P6; no leak', async () => {
    const x = tf.tensor4d(seededFloats(2 * 64 * 96 * 3, 1), [2, 64, 96, 3]);
    // P2 16x24, P3 8x12, P4 4x6, P5 2x3, P6 1x2: 3 * (384 + 96 + 24 + 6 + 2) = 1536.
    const { features, rpn } = model.forwardRpn(x, { training: false });
    expect(rpn.objectness.shape).to.deep.equal([2, 1536]);
    expect(rpn.deltas.shape).to.deep.equal([2, 1536, 4]);
    expect(features.P6.shape).to.deep.equal([2, 1, 2, 32]);
    expect(model.anchorsFor(64, 96).anchors.length).to.equal(4 * 1536);
    tf.dispose([...Object.values(features), rpn.objectness, rpn.deltas]);
    await expectNoLeak(async () => {
      const o = model.forwardRpn(x, { training: false });
      tf.dispose([...Object.values(o.features), o.rpn.objectness, o.rpn.deltas]);
    });
    x.dispose();
  });

  it('training step: four finite losses, a gradient for every trainable parameter (RPN, box head, predictor, FPN, backbone), no leak', async () => {
    const x = tf.tensor4d(seededFloats(2 * 64 * 96 * 3, 2), [2, 64, 96, 3]);
    const params = model.trainableParameters();
    expect(params.some(([n]) => n.startsWith('backbone.body.conv1'))).to.equal(false); // stem frozen
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => {
        const l = model.computeLosses({ images: x, targets, imageSizes: [{ height: 64, width: 96 }, { height: 60, width: 90 }] }, { training: true });
        for (const [k, v] of Object.entries(l)) expect(Number.isFinite(v.dataSync()[0]), k).to.equal(true);
        return tf.addN(Object.values(l)) as tf.Scalar;
      }, params.map(([, v]) => v));
      expect(Object.keys(grads)).to.have.length(params.length);
      for (const [name, v] of params) {
        const s = tf.tidy(() => tf.sum(tf.abs(grads[v.name])).dataSync()[0]);
        expect(Number.isFinite(s), name).to.equal(true);
        if (name.startsWith('roi_heads.') || name.startsWith('rpn.head.')) expect(s, `${name} gradient`).to.be.greaterThan(0);
      }
      tf.dispose([value, ...Object.values(grads)]);
    });
    x.dispose();
  });

  it('predict: detections per image with labels 0..K-1, scores > 0.05 descending, boxes inside the content; no leak', async () => {
    const x = tf.tensor4d(seededFloats(2 * 64 * 96 * 3, 3), [2, 64, 96, 3]);
    const sizes = [{ height: 64, width: 96 }, { height: 50, width: 70 }];
    const { detections, proposals } = await model.predictWithProposals({ images: x, imageSizes: sizes });
    expect(detections).to.have.length(2);
    detections.forEach((d, i) => {
      expect(d.scores.length).to.be.at.most(100);
      for (let k = 0; k < d.scores.length; k++) {
        expect(d.scores[k]).to.be.greaterThan(0.05);
        if (k) expect(d.scores[k]).to.be.at.most(d.scores[k - 1]);
        expect(d.labels[k]).to.be.within(0, 2);
        expect(d.boxes[4 * k + 2]).to.be.at.most(sizes[i].width);
        expect(d.boxes[4 * k + 3]).to.be.at.most(sizes[i].height);
      }
      expect(proposals[i].scores.length).to.be.within(1, 1000);
      for (let k = 0; k < proposals[i].scores.length; k++) expect(proposals[i].boxes[4 * k + 3]).to.be.at.most(sizes[i].height);
    });
    await expectNoLeak(() => model.predict({ images: x, imageSizes: sizes }));
    x.dispose();
  });

  it('faster_rcnn name table: export then import is the identity; pre-0.13 RPN names are refused with the reason', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'frcnn-names-'));
    try {
      const file = path.join(dir, 'a.safetensors');
      await exportTorchvisionWeights(model, file, { family: 'faster_rcnn' });
      const other = fasterrcnnResnet18Fpn({ ...small, seed: 5, backbone: { normLayer: 'frozen', frozenStages: 1, seed: 5 } });
      try {
        const report = await loadTorchvisionWeights(other, file, { family: 'faster_rcnn' });
        expect(report.missing).to.deep.equal([]);
        const mine = new Map(model.stateEntries().map((e) => [e.name, e.variable]));
        const bytes = (v: tf.Variable) => Buffer.from((v.dataSync() as Float32Array).buffer);
        for (const e of other.stateEntries()) expect(bytes(e.variable).equals(bytes(mine.get(e.name)!)), e.name).to.equal(true);
      } finally {
        other.dispose();
      }
      const old = path.join(dir, 'old.safetensors');
      const spec = torchStateSpec(model, { family: 'faster_rcnn' }).map((s) => ({ ...s, name: s.name.replace('rpn.head.conv.0.0.', 'rpn.head.conv.') }));
      await writeSafetensors(old, spec.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape, data: () => hashStateBytes(s.name, s.shape) })));
      let err: unknown;
      await loadTorchvisionWeights(model, old, { family: 'faster_rcnn' }).catch((e) => (err = e));
      expect(String(err)).to.match(/torchvision < 0.13 names/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('errors: a label outside 0..K-1, a box without area, targets or image sizes not one per image', async () => {
    const x = tf.zeros([2, 64, 96, 3]) as tf.Tensor4D;
    const bad = [{ boxes: Float32Array.from([0, 0, 5, 5]), labels: Int32Array.from([3]) }, targets[1]];
    expect(() => model.computeLosses({ images: x, targets: bad }, { training: true })).to.throw(/targets\[0\]: label 3 of box 0 is outside 0..2/);
    const flat = [{ boxes: Float32Array.from([0, 0, 5, 0]), labels: Int32Array.from([1]) }, targets[1]];
    expect(() => model.computeLosses({ images: x, targets: flat }, { training: true })).to.throw(/box 0 \[0, 0, 5, 0\] must have positive width and height/);
    expect(() => model.computeLosses({ images: x, targets: [targets[0]] }, { training: true })).to.throw(/2 images but 1 targets/);
    let err: unknown;
    await model.predict({ images: x, imageSizes: [{ height: 64, width: 96 }] }).catch((e) => (err = e));
    expect(String(err)).to.match(/2 images but 1 image sizes/);
    x.dispose();
  });
});

describe('FasterRCNN learning (slow: 40 Adam steps on two synthetic 96 x 96 images)', function () {
  this.timeout(900000);
  it('overfits the batch: every ground-truth box found with its class at IoU >= 0.5 and score >= 0.5; tensor count flat', async () => {
    const model = fasterrcnnResnet18Fpn({ numClasses: 2, fpnChannels: 64, roiHeads: { representationSize: 128 }, seed: 1, backbone: { normLayer: 'batch', frozenStages: 0, seed: 1 } });
    const s = 96;
    // Class 0: bright grey squares; class 1: cyan-ish rectangles (channel 0 dark), on a zero background.
    const perImage = [
      [[10, 12, 50, 60, 0], [60, 20, 90, 50, 1]],
      [[30, 40, 80, 90, 1], [5, 5, 30, 30, 0]],
    ];
    const img = new Float32Array(2 * s * s * 3);
    perImage.forEach((bs, b) => {
      for (const [x1, y1, x2, y2, k] of bs) {
        for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) for (let c = 0; c < 3; c++) img[((b * s + y) * s + x) * 3 + c] = k === 0 ? 1.5 : c === 0 ? -1.5 : 1;
      }
    });
    const x = tf.tensor4d(img, [2, s, s, 3]);
    const gts = perImage.map((bs) => ({ boxes: Float32Array.from(bs.flatMap((b) => b.slice(0, 4))), labels: Int32Array.from(bs.map((b) => b[4])) }));
    const opt = tf.train.adam(1e-3);
    const params = model.trainableParameters().map(([, v]) => v);
    const losses: number[] = [];
    let count = -1;
    for (let step = 0; step < 40; step++) {
      const loss = opt.minimize(() => tf.addN(Object.values(model.computeLosses({ images: x, targets: gts }, { training: true }))) as tf.Scalar, true, params)!;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      if (step === 2) count = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors, 'tensor count after step 40 vs step 3').to.equal(count);
    const dets = await model.predict({ images: x, imageSizes: [{ height: s, width: s }, { height: s, width: s }] });
    const iou = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
      const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
      return (w * h) / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h);
    };
    perImage.forEach((bs, i) => {
      const d = dets[i];
      for (const b of bs) {
        const found = Array.from(d.scores).some((sc, k) => sc >= 0.5 && d.labels[k] === b[4] && iou(d.boxes.subarray(4 * k, 4 * k + 4), b) >= 0.5);
        expect(found, `image ${i} box [${b.slice(0, 4)}] class ${b[4]} (losses ${losses.map((l) => l.toFixed(3)).join(' ')})`).to.equal(true);
      }
    });
    opt.dispose();
    model.dispose();
    x.dispose();
  });
});
