/**
 * Parity with torchvision's fcn_resnet50 and deeplabv3_resnet50 (num_classes 5, aux_loss): the golden files of
 * scripts/parity/gen_segmentation_golden.py hold torchvision's state-dict names and shapes, its outputs for
 * hash-initialized weights on a [1, 3, 65, 65] input (eval mode) and its losses on a fixed target. The same weights
 * are rebuilt from the hash, written as a safetensors file in torch's names and layouts, imported through
 * `loadTorchvisionWeights` with the `fcn` / `deeplabv3` name table and run on the same input.
 *
 * Tolerance: max |ours - reference| / max |reference| <= 1e-4 per output (the reference is a float64 forward of
 * the float32 numbers; torchvision's float32 forward deviates by ~1e-6, ours similarly from a different
 * accumulation order across ~55 layers; a wrong name, transpose, padding or interpolation convention gives errors
 * of order 1e-1). Losses: 1e-5 relative (a float32 log-softmax and mean over ~3400 pixels).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SegmentationModel, deeplabv3Resnet50, fcnResnet50, upsampleLogits } from '../../../heads/segmentation/model';
import { pixelCrossEntropy } from '../../../heads/segmentation/losses';
import { float32Checksum, hashStateBytes, hashTensorValues } from '../../../src/weights/hash_init';
import { writeSafetensors } from '../../../src/weights/safetensors';
import { WeightFamily, loadTorchvisionWeights, torchStateSpec } from '../../../src/weights/torchvision';
import { expectNoLeak } from '../../helpers/tensors';

const GOLDEN = path.resolve(__dirname, '..', '..', 'golden');
const TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-5;

interface OutputGolden {
  shapeNchw: [number, number, number, number];
  sum: number;
  sumAbs: number;
  maxAbs: number;
  /** [n, c, h, w, value]. */
  samples: [number, number, number, number, number][];
  torchFloat32RelErr: number;
  lowRes: { shapeNchw: [number, number, number, number]; values: number[] };
}
interface SegmentationGolden {
  generator: string;
  torch: string;
  torchvision: string;
  model: 'fcn_resnet50' | 'deeplabv3_resnet50';
  kwargs: { num_classes: number; aux_loss: boolean };
  input: { name: string; shapeNchw: [number, number, number, number] };
  stateDict: [string, number[], 'F32' | 'I64', number][];
  outputs: { out: OutputGolden; aux: OutputGolden };
  target: number[];
  classWeights: number[];
  loss: { out: number; aux: number; outClassWeighted: number; criterion: number };
}

const CASES: { model: SegmentationGolden['model']; family: WeightFamily; build: (k: number) => SegmentationModel }[] = [
  { model: 'fcn_resnet50', family: 'fcn', build: (k) => fcnResnet50({ numClasses: k, aux: true }) },
  { model: 'deeplabv3_resnet50', family: 'deeplabv3', build: (k) => deeplabv3Resnet50({ numClasses: k, aux: true }) },
];

/** Max |ours[n, h, w, c] - v| / maxAbs over the golden's NCHW samples. */
function sampleError(ours: Float32Array, shapeNhwc: number[], g: OutputGolden): number {
  const [, H, W, C] = shapeNhwc;
  let e = 0;
  for (const [n, c, h, w, v] of g.samples) e = Math.max(e, Math.abs(ours[((n * H + h) * W + w) * C + c] - v));
  return e / g.maxAbs;
}

/** NCHW golden values as an NHWC tensor. */
function nhwcFromNchw(values: number[], shapeNchw: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor(values, shapeNchw, 'float32'), [0, 2, 3, 1]) as tf.Tensor4D);
}

describe('segmentation parity with torchvision (hash-initialized weights)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seg-parity-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const c of CASES) {
    const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, `${c.model}.json`), 'utf-8')) as SegmentationGolden;
    describe(`${c.model} K=${g.kwargs.num_classes} aux (${g.generator}, torch ${g.torch}, torchvision ${g.torchvision})`, () => {
      let model: SegmentationModel;
      before(() => {
        model = c.build(g.kwargs.num_classes);
      });
      after(() => model.dispose());

      it('state names, torch shapes and dtypes equal torchvision state_dict() exactly, in order', () => {
        const ours = torchStateSpec(model, { family: c.family }).map((s) => [s.name, s.shape, s.dtype]);
        expect(ours).to.deep.equal(g.stateDict.map(([n, s, d]) => [n, s, d]));
      });

      it('hash weights reproduce torch values bit for bit (checksum per tensor)', () => {
        const bad = g.stateDict
          .filter(([, , dtype]) => dtype === 'F32')
          .filter(([name, shape, , sum]) => float32Checksum(hashTensorValues(name, shape)) !== sum)
          .map(([name]) => name);
        expect(bad).to.deep.equal([]);
      });

      it(`'out' and 'aux' on [1,3,65,65] within ${TOLERANCE} relative; losses within ${LOSS_TOLERANCE}`, async () => {
        const file = path.join(dir, `${c.model}.safetensors`);
        await writeSafetensors(
          file,
          g.stateDict.map(([name, shape, dtype]) => ({ name, dtype, shape, data: () => hashStateBytes(name, shape) })),
        );
        const shape = g.input.shapeNchw;
        const x = tf.tidy(() => tf.transpose(tf.tensor(hashTensorValues(g.input.name, shape), shape), [0, 2, 3, 1]) as tf.Tensor4D);
        const [n, , h, w] = shape;
        const target = tf.tensor3d(g.target, [n, h, w], 'int32');
        try {
          const report = await loadTorchvisionWeights(model, file, { family: c.family });
          expect(report.missing).to.deep.equal([]);
          expect(report.unexpected).to.deep.equal([]);
          expect(report.loaded.length).to.equal(model.stateEntries().length);

          const errors: Record<string, number> = {};
          await expectNoLeak(async () => {
            const out = model.forward(x, { training: false });
            try {
              for (const [key, t] of [['out', out.logits], ['aux', out.auxLogits!]] as const) {
                const go = g.outputs[key];
                const [N, K, H, W] = go.shapeNchw;
                expect(t.shape, key).to.deep.equal([N, H, W, K]);
                const data = (await t.data()) as Float32Array;
                errors[`${key}.samples`] = sampleError(data, t.shape, go);
                let sum = 0;
                for (let i = 0; i < data.length; i++) sum += data[i];
                errors[`${key}.sum`] = Math.abs(sum - go.sum) / go.sumAbs;
              }
              const losses = [
                ['out', pixelCrossEntropy(out.logits, target)],
                ['aux', pixelCrossEntropy(out.auxLogits!, target)],
                ['outClassWeighted', pixelCrossEntropy(out.logits, target, { classWeights: g.classWeights })],
              ] as const;
              for (const [k, l] of losses) {
                errors[`loss.${k}`] = Math.abs((await l.data())[0] - g.loss[k]) / Math.abs(g.loss[k]);
                l.dispose();
              }
            } finally {
              tf.dispose([out.logits, out.auxLogits]);
            }
            const losses = model.computeLosses({ images: x, masks: target }, { training: false });
            try {
              const total = (await losses.segmentation.data())[0] + (await losses.aux!.data())[0];
              errors['loss.criterion'] = Math.abs(total - g.loss.criterion) / g.loss.criterion;
            } finally {
              tf.dispose([losses.segmentation, losses.aux]);
            }
          });
          for (const [k, e] of Object.entries(errors)) {
            expect(e, `${c.model} ${k}`).to.be.at.most(k.startsWith('loss.') ? LOSS_TOLERANCE : TOLERANCE);
          }
          if (process.env.RESVISION_PARITY_REPORT) console.log(JSON.stringify({ model: c.model, errors }));
        } finally {
          tf.dispose([x, target]);
          fs.rmSync(file, { force: true });
        }
      });

      it("upsampleLogits of torch's low-resolution logits equals torch's F.interpolate(bilinear, align_corners=False)", async () => {
        // Isolates the interpolation convention: the input is torch's own 9x9 logits, so only the resize differs.
        for (const key of ['out', 'aux'] as const) {
          const go = g.outputs[key];
          const low = nhwcFromNchw(go.lowRes.values, go.lowRes.shapeNchw);
          const up = upsampleLogits(low, go.shapeNchw[2], go.shapeNchw[3]);
          const e = sampleError((await up.data()) as Float32Array, up.shape, go);
          tf.dispose([low, up]);
          // float32 rounding of the inputs and of the 4-tap interpolation only.
          expect(e, key).to.be.at.most(1e-6);
        }
      });
    });
  }
});
