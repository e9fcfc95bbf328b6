/**
 * Panoptic FPN's semantic head against a PyTorch module following detectron2's SemSegFPNHead
 * (scripts/parity/gen_sem_seg_fpn_golden.py): state names and shapes, stride-4 and input-size logits, the
 * cross-entropy loss with ignored pixels, and parameter gradients, on hash weights and hash P2..P5 inputs.
 *
 * Tolerances: the reference is float64; ours is float32 through 7 convolutions, 7 GroupNorms and 6 bilinear
 * upsamplings. Logits: max |ours - ref| <= 1e-4 of max |ref|. Loss: 1e-5 relative. Gradients: 1e-4 of the largest
 * reference gradient of that tensor (float32 backward through GroupNorm's statistics and the softmax; a wrong
 * upsampling convention or GroupNorm axis gives errors of order 1e-1: tfjs's stock ResizeBilinearGrad, which ignores
 * halfPixelCenters, gave 0.3 on `p3.0.weight`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { pixelCrossEntropy } from '../../../heads/segmentation/losses';
import { SemSegFPNHead } from '../../../heads/segmentation/sem_seg_fpn_head';
import { PyramidLevel } from '../../../src/backbone/features';
import { float32Checksum, hashTensorValues, hashUniform } from '../../../src/weights/hash_init';
import { assignHashState, ourIndexOfTorch, torchShapeOf } from '../../helpers/hash_state';
import { expectNoLeak, maxAbs, maxAbsDiff } from '../../helpers/tensors';

const GOLDEN = path.resolve(__dirname, '..', '..', 'golden', 'sem_seg_fpn_head.json');

interface GradGolden {
  shape: number[];
  values?: number[];
  maxAbs?: number;
  samples?: number[][];
}
interface Golden {
  generator: string;
  torch: string;
  convDims: number;
  numClasses: number;
  inputs: Record<string, { name: string; shapeNchw: [number, number, number, number] }>;
  stateDict: [string, number[], string, number][];
  logitsStride4Nchw: { shape: [number, number, number, number]; values: number[] };
  logits: { shapeNchw: number[]; sum: number; sumAbs: number; maxAbs: number; samples: number[][] };
  loss: number;
  grads: Record<string, GradGolden>;
}

const LEVELS: PyramidLevel[] = ['P2', 'P3', 'P4', 'P5'];

function makeTarget(n: number, h: number, w: number, k: number): Int32Array {
  const u = hashUniform('semseg/target', n * h * w);
  const t = new Int32Array(n * h * w);
  for (let i = 0; i < t.length; i++) {
    const y = Math.floor(i / w) % h;
    t[i] = u[i] > 0.9 || (y >= 10 && y < 14) ? 255 : Math.floor(((u[i] + 1) / 2) * k);
  }
  return t;
}

describe(`SemSegFPNHead parity (${path.basename(GOLDEN)})`, () => {
  const g = JSON.parse(fs.readFileSync(GOLDEN, 'utf-8')) as Golden;
  const inSpecs = Object.fromEntries(LEVELS.map((l, i) => [l, { channels: g.inputs[l].shapeNchw[1], stride: 4 * 2 ** i }]));
  let head: SemSegFPNHead;
  let feats: Record<PyramidLevel, tf.Tensor4D>;
  before(() => {
    head = new SemSegFPNHead({ inLevels: LEVELS, inSpecs, numClasses: g.numClasses, convDims: g.convDims });
    assignHashState(head);
    feats = Object.fromEntries(
      LEVELS.map((l) => {
        const s = g.inputs[l].shapeNchw;
        return [l, tf.tidy(() => tf.transpose(tf.tensor4d(hashTensorValues(g.inputs[l].name, s), s), [0, 2, 3, 1]))];
      }),
    ) as Record<PyramidLevel, tf.Tensor4D>;
  });
  after(() => {
    head.dispose();
    tf.dispose(Object.values(feats));
  });

  it(`state names, torch shapes and order equal detectron2's SemSegFPNHead (${g.generator}, torch ${g.torch})`, () => {
    const ours = head.stateEntries().map((e) => [e.name, torchShapeOf(e.variable.shape)]);
    expect(ours).to.deep.equal(g.stateDict.map(([n, s]) => [n, s]));
    const bad = g.stateDict.filter(([name, shape, , sum]) => float32Checksum(hashTensorValues(name, shape)) !== sum);
    expect(bad.map((b) => b[0])).to.deep.equal([]);
  });

  it('stride-4 logits, input-size logits and the loss equal the reference; no leak', async () => {
    const x4 = head.forwardFeatures(feats);
    const ref4 = g.logitsStride4Nchw;
    const [n, k, h4, w4] = ref4.shape;
    expect(x4.shape).to.deep.equal([n, h4, w4, k]);
    const ours4 = tf.tidy(() => tf.transpose(x4, [0, 3, 1, 2]).dataSync());
    const e4 = maxAbsDiff(ours4, ref4.values) / maxAbs(ref4.values);
    const logits = head.forward(feats);
    const [, , H, W] = g.logits.shapeNchw;
    expect(logits.shape).to.deep.equal([n, H, W, k]);
    const v = logits.dataSync();
    let e = 0;
    for (const [b, c, y, xx, val] of g.logits.samples) e = Math.max(e, Math.abs(v[((b * H + y) * W + xx) * k + c] - val));
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i];
    const target = tf.tensor3d(makeTarget(n, H, W, k), [n, H, W], 'int32');
    const loss = pixelCrossEntropy(logits, target).dataSync()[0];
    if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ semSegFpn: { stride4: e4, samples: e / g.logits.maxAbs, sum: Math.abs(s - g.logits.sum) / g.logits.sumAbs, loss: Math.abs(loss - g.loss) / g.loss } }));
    expect(e4, 'stride-4 logits').to.be.at.most(1e-4);
    expect(e / g.logits.maxAbs, 'logits samples').to.be.at.most(1e-4);
    expect(Math.abs(s - g.logits.sum) / g.logits.sumAbs, 'logits sum').to.be.at.most(1e-4);
    expect(Math.abs(loss - g.loss) / g.loss, 'loss').to.be.at.most(1e-5);
    tf.dispose([x4, logits]);
    await expectNoLeak(() => tf.dispose(head.forward(feats)));
    target.dispose();
  });

  it('gradients of the loss for predictor, GroupNorm and convolution parameters equal the reference', () => {
    const [n, , H, W] = g.logits.shapeNchw;
    const target = tf.tensor3d(makeTarget(n, H, W, g.numClasses), [n, H, W], 'int32');
    const byName = new Map(head.stateEntries().map((e) => [e.name, e.variable]));
    const vars = Object.keys(g.grads).map((name) => byName.get(name)!);
    const { value, grads } = tf.variableGrads(() => pixelCrossEntropy(head.forward(feats), target), vars);
    const report: Record<string, number> = {};
    for (const [name, ref] of Object.entries(g.grads)) {
      const v = byName.get(name)!;
      const ours = grads[v.name].dataSync();
      let err = 0;
      let scale: number;
      if (ref.values) {
        scale = maxAbs(ref.values);
        ref.values.forEach((val, i) => {
          const ti = ref.shape.length === 4 ? [i / ref.shape[1], i % ref.shape[1], 0, 0].map(Math.floor) : [i];
          err = Math.max(err, Math.abs(ours[ourIndexOfTorch(ti, v.shape)] - val));
        });
      } else {
        scale = ref.maxAbs!;
        for (const smp of ref.samples!) err = Math.max(err, Math.abs(ours[ourIndexOfTorch(smp.slice(0, -1), v.shape)] - smp[smp.length - 1]));
      }
      report[name] = err / scale;
    }
    if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ semSegFpnGrads: report }));
    for (const [name, e] of Object.entries(report)) expect(e, name).to.be.at.most(1e-4);
    tf.dispose([value, target, ...Object.values(grads)]);
  });

  it('an input not divisible by the coarsest stride: one clear error', () => {
    const odd = Object.fromEntries(LEVELS.map((l, i) => [l, tf.zeros([1, Math.ceil(20 / 2 ** i), Math.ceil(20 / 2 ** i), 32]) as tf.Tensor4D]));
    expect(() => head.forward(odd)).to.throw(/P5 upsamples to 24x24 but P2 gives 20x20; pad the input/);
    tf.dispose(Object.values(odd));
  });
});
