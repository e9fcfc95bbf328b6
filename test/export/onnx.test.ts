/**
 * ONNX export: the graph's declarations and initializers (no runtime needed), ONNX Runtime against the tfjs models
 * (same weights, several input sizes: batch, height and width are dynamic; Semantic FPN's GroupNorm lowered to
 * opset 17 ops), ONNX Runtime against torchvision
 * (test/golden/onnx_torchvision.json, scripts/parity/gen_onnx_golden.py: torch's forward and torch.onnx's export
 * of the same hash-initialized torchvision models), and `resvision export` on a checkpoint.
 *
 * Tolerance 1e-4 relative (max |ours - reference| / max |reference|, and the sum's error over the sum of |x|):
 * float32 accumulation order differs between tfjs, ORT and torch over up to ~60 layers (measured 1e-7..3e-6); a
 * wrong transpose, padding or resize convention gives errors of order 1.
 *
 * Without onnxruntime-node (an optional dependency) the runtime suites are skipped, saying so.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { onnx } from 'onnx-proto';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ResNetClassifier } from '../../heads/classification/model';
import { RetinaNet, retinanetResnet18Fpn, retinanetResnet50Fpn } from '../../heads/detection/model';
import { SegmentationModel, deeplabv3Resnet50, fcnResnet50 } from '../../heads/segmentation/model';
import { semanticFpnResnet18 } from '../../heads/segmentation/semantic_fpn';
import { ResNet, resnet18, resnet50 } from '../../src/backbone/resnet';
import { validateConfig } from '../../src/config/load';
import { buildClassifier } from '../../src/tasks/classification';
import { buildDetector, isFasterRCNNConfig } from '../../src/tasks/detection';
import { saveCheckpoint } from '../../src/engine/checkpoint';
import { OnnxRuntimeModel, hasOnnxRuntime, nchwToNhwc, nhwcToNchw, sessionOptions } from '../../src/engine/onnx_runtime';
import { OnnxExportTarget, exportOnnx } from '../../src/export/onnx/export';
import { decodeOnnxModel } from '../../src/export/onnx/graph';
import { Module } from '../../src/nn/module';
import { hashStateBytes, hashTensorValues, hashUniform } from '../../src/weights/hash_init';
import { writeSafetensors } from '../../src/weights/safetensors';
import { WeightFamily, loadTorchvisionWeights, torchStateSpec } from '../../src/weights/torchvision';
import { runCli } from '../helpers/cli';
import { expectRejects } from '../helpers/errors';
import { expectNoLeak, seededFloats } from '../helpers/tensors';

const TOLERANCE = 1e-4;
const GOLDEN = path.resolve(__dirname, '..', 'golden', 'onnx_torchvision.json');

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / s;
}

/** Fill `model` with the hash values of its torchvision state names (src/weights/hash_init.ts). */
async function hashWeights(model: Module, family: WeightFamily): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-onnx-'));
  const file = path.join(dir, 'w.safetensors');
  try {
    const spec = torchStateSpec(model, { family });
    await writeSafetensors(file, spec.map(({ name, shape, dtype }) => ({ name, dtype, shape, data: () => hashStateBytes(name, shape) })));
    const r = await loadTorchvisionWeights(model, file, { family });
    expect(r.missing).to.deep.equal([]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The tfjs outputs of a target, NCHW for 4-D ones (the ONNX layout), as host arrays. */
async function tfjsOutputs(t: OnnxExportTarget, x: tf.Tensor4D): Promise<Record<string, Float32Array>> {
  const out: Record<string, tf.Tensor> = {};
  switch (t.kind) {
    case 'classifier':
      out.logits = t.model.forward(x, { training: false });
      break;
    case 'features': {
      Object.assign(out, t.backbone.forward(x, { training: false }));
      out.pooled = t.backbone.embed(x);
      break;
    }
    case 'retinanet': {
      const o = t.model.forward(x, { training: false });
      out.clsLogits = o.clsLogits;
      out.boxDeltas = o.boxDeltas;
      const a = t.model.anchorsFor(x.shape[1], x.shape[2]).anchors;
      out.anchors = tf.tensor2d(a, [a.length / 4, 4]);
      break;
    }
    case 'segmentation': {
      const o: { logits: tf.Tensor4D; auxLogits?: tf.Tensor4D } = t.model.forward(x, { training: false });
      out.logits = o.logits;
      if (o.auxLogits) out.auxLogits = o.auxLogits;
      break;
    }
  }
  const host: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(out)) {
    const data = (await v.data()) as Float32Array;
    host[k] = v.rank === 4 ? nhwcToNchw(data, v.shape as [number, number, number, number]) : data;
    v.dispose();
  }
  return host;
}

describe('exportOnnx: graph declarations and initializers', () => {
  let model: ResNetClassifier;
  before(async () => {
    model = new ResNetClassifier(resnet18(), 7);
    await hashWeights(model, 'resnet');
  });
  after(() => model.dispose());

  it('resnet18 K=7: opset 17, input images [N, 3, H, W], output logits [N, 7], initializers = torchvision state dict (OIHW)', () => {
    const m = decodeOnnxModel(exportOnnx({ kind: 'classifier', model }).bytes);
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).to.deep.equal([['', 17]]);
    expect(Number(m.irVersion)).to.equal(8);
    const g = m.graph!;
    const dims = (v: onnx.IValueInfoProto): (string | number)[] => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(g.input!.map((v) => [v.name, dims(v)])).to.deep.equal([['images', ['N', 3, 'H', 'W']]]);
    expect(g.output!.map((v) => [v.name, dims(v)])).to.deep.equal([['logits', ['N', 7]]]);
    const expected = torchStateSpec(model, { family: 'resnet' }).filter((s) => s.dtype === 'F32');
    const byName = new Map(g.initializer!.map((t) => [t.name!, t]));
    for (const s of expected) expect(byName.get(s.name)?.dims?.map(Number), s.name).to.deep.equal(s.name === 'fc.weight' ? [...s.shape].reverse() : s.shape);
    // The initializer bytes are torch's layout: exactly the hash values of the torch-shaped tensor.
    for (const name of ['conv1.weight', 'layer2.0.downsample.0.weight', 'fc.weight', 'layer4.1.bn2.running_var']) {
      const t = byName.get(name)!;
      const raw = t.rawData!;
      const got = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const torchShape = expected.find((s) => s.name === name)!.shape;
      // fc.weight stays [in, out] for Gemm (transB = 0): torch's [out, in] transposed.
      const want = hashTensorValues(name, torchShape);
      if (name === 'fc.weight') {
        const [o, i] = torchShape;
        const tr = new Float32Array(want.length);
        for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) tr[b * o + a] = want[a * i + b];
        expect(Array.from(got)).to.deep.equal(Array.from(tr));
      } else expect(Array.from(got), name).to.deep.equal(Array.from(want));
    }
    expect(g.initializer!.some((t) => t.name!.endsWith('num_batches_tracked'))).to.equal(false);
  });

  it('nhwcToNchw and nchwToNhwc invert each other', () => {
    const x = seededFloats(2 * 3 * 4 * 5, 1);
    const nchw = nhwcToNchw(x, [2, 3, 4, 5]);
    // Element (n=1, h=2, w=3, c=4) of NHWC [2,3,4,5] sits at ((1*3+2)*4+3)*5+4 and at ((1*5+4)*3+2)*4+3 in NCHW.
    expect(nchw[((1 * 5 + 4) * 3 + 2) * 4 + 3]).to.equal(x[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    expect(Array.from(nchwToNhwc(nchw, [2, 5, 3, 4]))).to.deep.equal(Array.from(x));
  });

  it('creates no tensors', async () => {
    await expectNoLeak(() => exportOnnx({ kind: 'classifier', model }));
  });
});

describe('ONNX Runtime vs tfjs (same weights, dynamic batch and size)', function () {
  const measured: string[] = [];
  after(() => {
    if (measured.length) console.log(`      max relative error, ORT vs tfjs: ${measured.join(', ')}`);
  });
  before(async function () {
    if (!(await hasOnnxRuntime())) {
      console.log('    skipped: onnxruntime-node (optional dependency) is not installed');
      this.skip();
    }
  });

  async function check(t: OnnxExportTarget, shapes: [number, number, number, number][], names: string[]): Promise<Record<string, number>> {
    const session = await OnnxRuntimeModel.create(exportOnnx(t).bytes);
    const worst: Record<string, number> = {};
    try {
      expect([...session.outputNames]).to.deep.equal(names);
      for (const [i, shape] of shapes.entries()) {
        const x = tf.tensor4d(seededFloats(shape.reduce((a, b) => a * b, 1), 7 + i), shape);
        const ref = await tfjsOutputs(t, x);
        const nchw = nhwcToNchw(x.dataSync() as Float32Array, shape);
        x.dispose();
        const out = await session.run(nchw, [shape[0], 3, shape[1], shape[2]]);
        for (const k of names) {
          const e = relErr(out[k].data, ref[k]);
          expect(e, `${k} at input [${shape}]`).to.be.at.most(TOLERANCE);
          worst[k] = Math.max(worst[k] ?? 0, e);
        }
      }
    } finally {
      await session.release();
    }
    measured.push(`${t.kind} ${Object.entries(worst).map(([k, e]) => `${k} ${e.toExponential(1)}`).join(' ')}`);
    return worst;
  }

  it('classifier resnet18 K=7 at [2, 64, 96] and [1, 45, 37]', async () => {
    const model = new ResNetClassifier(resnet18({ seed: 1 }), 7);
    await check({ kind: 'classifier', model }, [[2, 64, 96, 3], [1, 45, 37, 3]], ['logits']);
    model.dispose();
  });

  it('feature extractor resnet18 (FrozenBatchNorm2d) C2..C5 + pooled at [2, 64, 64] and [1, 40, 72]', async () => {
    const backbone = resnet18({ seed: 2, normLayer: 'frozen' });
    await hashWeights(backbone, 'resnet');
    await check({ kind: 'features', backbone }, [[2, 64, 64, 3], [1, 40, 72, 3]], ['C2', 'C3', 'C4', 'C5', 'pooled']);
    backbone.dispose();
  });

  it('RetinaNet resnet18 FPN K=3: head outputs and anchors at [2, 64, 96] and [1, 100, 72]', async () => {
    const model = retinanetResnet18Fpn({ numClasses: 3, backbone: { normLayer: 'batch' } });
    await check({ kind: 'retinanet', model }, [[2, 64, 96, 3], [1, 100, 72, 3]], ['clsLogits', 'boxDeltas', 'anchors']);
    model.dispose();
  });

  it('FCN (resnet18 trunk, aux head) K=5 at [1, 48, 40] and [2, 33, 50]', async () => {
    const model = new SegmentationModel(resnet18({ seed: 4 }), { numClasses: 5, head: { type: 'fcn' }, aux: true });
    await check({ kind: 'segmentation', model }, [[1, 48, 40, 3], [2, 33, 50, 3]], ['logits', 'auxLogits']);
    model.dispose();
  });

  it('DeepLabV3 (resnet18 trunk, ASPP rates 2/3/4) K=5 at [1, 48, 40] and [1, 35, 61]', async () => {
    const model = new SegmentationModel(resnet18({ seed: 5 }), { numClasses: 5, head: { type: 'deeplabv3', atrousRates: [2, 3, 4] } });
    await check({ kind: 'segmentation', model }, [[1, 48, 40, 3], [1, 35, 61, 3]], ['logits']);
    model.dispose();
  });

  it('Semantic FPN (resnet18 trunk, FPN 64, head 32 with GroupNorm(8)) K=5 at [1, 64, 96] and [2, 32, 64]', async () => {
    const model = semanticFpnResnet18({ numClasses: 5, fpnChannels: 64, convDims: 32, numGroups: 8, seed: 6, backbone: { normLayer: 'batch', frozenStages: 0 } });
    // Hash values everywhere (GroupNorm's affine too), so that a channel-order or grouping error shows.
    await hashWeights(model, 'resnet');
    await check({ kind: 'segmentation', model }, [[1, 64, 96, 3], [2, 32, 64, 3]], ['logits']);
    const g = decodeOnnxModel(exportOnnx({ kind: 'segmentation', model }).bytes).graph!;
    const ops = new Set(g.node!.map((n) => n.opType));
    expect(ops.has('InstanceNormalization') && !ops.has('GroupNormalization')).to.equal(true);
    // Initializers carry the state names: trunk, FPN, head (GroupNorm affine included).
    const names = new Set(g.initializer!.map((t) => t.name));
    for (const n of ['backbone.body.conv1.weight', 'backbone.fpn.inner_blocks.0.0.weight', 'sem_seg_head.p5.4.norm.weight', 'sem_seg_head.predictor.bias']) {
      expect(names.has(n), n).to.equal(true);
    }
    model.dispose();
  });

  it('sessions: one intra-op thread and no spinning by default; a file ORT cannot read is one error naming it', async () => {
    const o = sessionOptions();
    expect([o.intraOpNumThreads, o.interOpNumThreads, o.executionProviders]).to.deep.equal([1, 1, ['cpu']]);
    expect(o.extra).to.deep.equal({ session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } });
    expect(() => sessionOptions(0)).to.throw(/threads must be a positive integer, got 0/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-ort-'));
    const bad = path.join(dir, 'bad.onnx');
    fs.writeFileSync(bad, 'not a model');
    try {
      await expectRejects(OnnxRuntimeModel.create(bad), /bad\.onnx: ONNX Runtime cannot load the model/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

});

interface Stats {
  shape: number[];
  sum: number;
  sumAbs: number;
  maxAbs: number;
  samples: [number, number][];
}
interface GoldenModel {
  input: { name: string; shapeNchw: [number, number, number, number] };
  stateDict: [string, number[]][];
  torch: Record<string, Stats>;
  torchOnnx: Record<string, Stats & { relErrToTorch: number }>;
}

describe('ONNX Runtime vs torchvision and torch.onnx (golden onnx_torchvision.json)', function () {
  let golden: { models: Record<string, GoldenModel> };
  const measured: string[] = [];
  after(() => {
    if (measured.length) console.log(`      max relative error (samples) vs torch / torch.onnx + ORT: ${measured.join(', ')}`);
  });

  before(async function () {
    if (!(await hasOnnxRuntime())) {
      console.log('    skipped: onnxruntime-node (optional dependency) is not installed');
      this.skip();
    }
    golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as { models: Record<string, GoldenModel> };
  });

  /** Export `t`, run ORT on the golden's hash input and compare every output with torch and torch.onnx+ORT. */
  async function compare(name: string, t: OnnxExportTarget, root: Module, family: WeightFamily): Promise<void> {
    const g = golden.models[name];
    const spec = torchStateSpec(root, { family }).map((s) => [s.name, s.shape]);
    expect(spec, 'state dict names and torch shapes').to.deep.equal(g.stateDict);
    await hashWeights(root, family);
    const shape = g.input.shapeNchw;
    const x = Float32Array.from(hashUniform(g.input.name, shape.reduce((a, b) => a * b, 1)));
    const session = await OnnxRuntimeModel.create(exportOnnx(t).bytes);
    try {
      const out = await session.run(x, shape);
      for (const [k, ref] of Object.entries(g.torch)) {
        const v = out[k];
        const errs: string[] = [];
        expect(v.dims, k).to.deep.equal(ref.shape);
        for (const [which, r] of [['torch', ref], ['torch.onnx + ORT', g.torchOnnx[k]]] as const) {
          let e = 0;
          for (const [i, want] of r.samples) e = Math.max(e, Math.abs(v.data[i] - want));
          let s = 0;
          for (let i = 0; i < v.data.length; i++) s += v.data[i];
          errs.push((e / r.maxAbs).toExponential(1));
          expect(e / r.maxAbs, `${name}.${k} samples vs ${which}`).to.be.at.most(TOLERANCE);
          expect(Math.abs(s - r.sum) / r.sumAbs, `${name}.${k} sum vs ${which}`).to.be.at.most(TOLERANCE);
        }
        measured.push(`${name}.${k} ${errs.join(' / ')}`);
      }
    } finally {
      await session.release();
    }
  }

  it('classifier resnet18 K=7 [2, 3, 64, 96]: logits', async () => {
    const model = new ResNetClassifier(resnet18(), 7);
    await compare('classifier', { kind: 'classifier', model }, model, 'resnet');
    model.dispose();
  });

  it('features resnet50 [1, 3, 64, 64]: C2..C5, pooled', async () => {
    const backbone: ResNet = resnet50();
    await compare('features', { kind: 'features', backbone }, backbone, 'resnet');
    backbone.dispose();
  });

  it('retinanet_resnet50_fpn K=3 [1, 3, 96, 128]: clsLogits, boxDeltas, anchors', async () => {
    // torchvision builds BatchNorm2d (not FrozenBatchNorm2d) without pretrained weights; eval mode is the same math.
    const model: RetinaNet = retinanetResnet50Fpn({ numClasses: 3, backbone: { normLayer: 'batch' } });
    await compare('retinanet', { kind: 'retinanet', model }, model, 'retinanet');
    model.dispose();
  });

  it('fcn_resnet50 K=5 with aux [1, 3, 48, 40]: logits, auxLogits', async () => {
    const model = fcnResnet50({ numClasses: 5, aux: true });
    await compare('fcn', { kind: 'segmentation', model }, model, 'fcn');
    model.dispose();
  });

  it('deeplabv3_resnet50 K=5 [1, 3, 48, 40]: logits', async () => {
    const model = deeplabv3Resnet50({ numClasses: 5 });
    await compare('deeplabv3', { kind: 'segmentation', model }, model, 'deeplabv3');
    model.dispose();
  });
});

describe('resvision export CHECKPOINT --format onnx', () => {
  let dir: string;
  let ckpt: string;
  let model: ResNetClassifier;
  const classes = ['ants', 'bees', 'wasps'];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-export-'));
    ckpt = path.join(dir, 'model_0000010.safetensors');
    const raw = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../configs/classification/resnet18_hymenoptera.json'), 'utf8'));
    const cfg = validateConfig(raw, 'resnet18_hymenoptera.json');
    if (cfg.task !== 'classification') throw new Error('expected a classification config');
    model = buildClassifier(cfg, classes.length);
    await saveCheckpoint(ckpt, { model, meta: { kind: 'resvision.train', config: { ...cfg, classes } } });
  });
  after(() => {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a model with the class names and config in its metadata; ORT logits equal the checkpoint model', async () => {
    const out = path.join(dir, 'model.onnx');
    const line = await runCli(['export', ckpt, '--format', 'onnx', '--out', out]);
    expect(line).to.match(/^wrote .*model\.onnx \(\d+ nodes, 3 classes; outputs logits \[N, 3\]\)\n$/);
    const m = decodeOnnxModel(fs.readFileSync(out));
    const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta['resvision.classes'])).to.deep.equal(classes);
    expect(JSON.parse(meta['resvision.config']).model.backbone.name).to.equal('resnet18');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
    if (!(await hasOnnxRuntime())) return;
    for (const source of [out, ckpt]) {
      const session = await OnnxRuntimeModel.create(source);
      const x = tf.tensor4d(seededFloats(2 * 40 * 48 * 3, 3), [2, 40, 48, 3]);
      const ref = (await tfjsOutputs({ kind: 'classifier', model }, x)).logits;
      const got = await session.run(nhwcToNchw(x.dataSync() as Float32Array, [2, 40, 48, 3]), [2, 3, 40, 48]);
      x.dispose();
      expect(relErr(got.logits.data, ref), source).to.be.at.most(TOLERANCE);
      await session.release();
    }
  });

  it('a detection checkpoint (quickstart config): clsLogits, boxDeltas, anchors equal the tfjs model and its anchors', async () => {
    const raw = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../configs/detection/retinanet_r18_fpn_bccd_quickstart.json'), 'utf8'));
    const cfg = validateConfig(raw, 'retinanet_r18_fpn_bccd_quickstart.json');
    if (cfg.task !== 'detection' || isFasterRCNNConfig(cfg)) throw new Error('expected a RetinaNet config');
    const det = buildDetector(cfg, 2);
    const file = path.join(dir, 'det.safetensors');
    await saveCheckpoint(file, { model: det, meta: { kind: 'resvision.train', config: { ...cfg, classes: ['WBC', 'RBC'], categoryIds: [1, 2] } } });
    const out = path.join(dir, 'det.onnx');
    expect(await runCli(['export', file, '--out', out])).to.match(/2 classes; outputs clsLogits \[N, R, 2\], boxDeltas \[N, R, 4\], anchors \[R, 4\]/);
    if (!(await hasOnnxRuntime())) {
      det.dispose();
      return;
    }
    const session = await OnnxRuntimeModel.create(out);
    const x = tf.tensor4d(seededFloats(96 * 128 * 3, 9), [1, 96, 128, 3]);
    const ref = await tfjsOutputs({ kind: 'retinanet', model: det }, x);
    const got = await session.run(nhwcToNchw(x.dataSync() as Float32Array, [1, 96, 128, 3]), [1, 3, 96, 128]);
    x.dispose();
    for (const k of ['clsLogits', 'boxDeltas']) expect(relErr(got[k].data, ref[k]), k).to.be.at.most(TOLERANCE);
    expect(Array.from(got.anchors.data)).to.deep.equal(Array.from(ref.anchors));
    await session.release();
    det.dispose();
  });

  it('--features exports the backbone of a classification checkpoint: C2..C5 and pooled', async () => {
    const out = path.join(dir, 'features.onnx');
    expect(await runCli(['export', ckpt, '--out', out, '--features'])).to.match(/outputs C2 \[N, 64, H_C2, W_C2\], C3 .*C5 \[N, 512, H_C5, W_C5\], pooled \[N, 512\]\)/);
    const g = decodeOnnxModel(fs.readFileSync(out)).graph!;
    expect(g.output!.map((o) => o.name)).to.deep.equal(['C2', 'C3', 'C4', 'C5', 'pooled']);
    expect(g.initializer!.some((t) => t.name!.startsWith('fc.'))).to.equal(false);
  });

  it('a missing checkpoint is one clear error', async () => {
    let err: Error | undefined;
    try {
      await runCli(['export', path.join(dir, 'nope.safetensors'), '--out', path.join(dir, 'x.onnx')]);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/checkpoint not found: .*nope\.safetensors/);
    expect(fs.existsSync(path.join(dir, 'x.onnx'))).to.equal(false);
  });
});
