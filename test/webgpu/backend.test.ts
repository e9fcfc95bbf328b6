/**
 * The WebGPU backend (src/engine/webgpu.ts) against the cpu backend: the PadV2 fix at ranks 5 and 6 (forward and
 * gradient), a whole ResNet-18 training step (loss, logits and every gradient) and a RetinaNet-R18 forward, all read
 * back asynchronously as the backend requires. On a machine without a GPU the adapter is Mesa's llvmpipe through
 * Dawn's OpenGL ES backend (`.ci/run` installs it); where no adapter can be created the tests skip, saying why.
 *
 * Variables are created on cpu and move to webgpu when first used there (a read from cpu is synchronous); nothing
 * moves back, and everything made on webgpu is disposed before the suite returns to wasm.
 *
 * The files of test/webgpu run in their own mocha process (`npm run test:webgpu`): Dawn's instances, threads and
 * drivers stay out of the process that runs the rest of the suite, and the process ends when the tests do (`--exit`:
 * a driver thread left behind must not hold a finished run).
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { resnet18 } from '../../src/backbone/resnet';
import { backendNotices } from '../../src/cli/common';
import { doctorReport } from '../../src/cli/doctor';
import { selectBackend } from '../../src/engine/backend';
import { isSoftwareAdapter, releaseWebGpu, startWebGpuBackend } from '../../src/engine/webgpu';
import { conv2d } from '../../src/ops/conv';
import { hashTensorValues } from '../../src/weights/hash_init';
import { ResNetClassifier } from '../../heads/classification/model';
import { retinanetResnet18Fpn } from '../../heads/detection/model';

/** max |a - b| / max(1e-3, max |b|): one relative figure per tensor, robust to near-zero entries. */
function relDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(1e-3, m);
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  return Float32Array.from((await t.data()) as Float32Array);
}

describe('isSoftwareAdapter', () => {
  it('Mesa llvmpipe/lavapipe, SwiftShader, WARP and fallback adapters are software; real GPUs are not', () => {
    // Names as the drivers report them (Dawn's adapter info: device / description).
    expect(isSoftwareAdapter({ device: 'llvmpipe (LLVM 15.0.6, 256 bits)' })).to.equal(true);
    expect(isSoftwareAdapter({ description: 'OpenGL ES 3.2 Mesa 22.3.6', device: 'llvmpipe-llvm-15-0-6-256-bits-' })).to.equal(true);
    expect(isSoftwareAdapter({ device: 'lavapipe' })).to.equal(true);
    expect(isSoftwareAdapter({ description: 'SwiftShader Device (Subzero)' })).to.equal(true);
    expect(isSoftwareAdapter({ description: 'Microsoft Basic Render Driver' })).to.equal(true);
    expect(isSoftwareAdapter({ device: 'NVIDIA H100 80GB HBM3' }, true)).to.equal(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', device: 'NVIDIA H100 80GB HBM3', description: 'NVIDIA: 550.54.15' })).to.equal(false);
    expect(isSoftwareAdapter({ vendor: 'apple', architecture: 'metal-3', description: 'Apple M2' })).to.equal(false);
    expect(isSoftwareAdapter({ vendor: 'intel', device: 'Mesa Intel(R) UHD Graphics 620 (KBL GT2)' })).to.equal(false);
  });
});

describe('selectBackend auto and WebGPU', () => {
  it('auto takes WebGPU only with a hardware adapter; otherwise the attempt says why', async function () {
    const previous = tf.getBackend();
    const info = await selectBackend('auto', { threads: previous === 'wasm' ? undefined : 1 });
    if (info.packageName === '@tensorflow/tfjs-node-gpu') {
      await tf.setBackend(previous);
      this.skip(); // installed by hand here: auto stops before WebGPU
    }
    const attempt = info.attempts.find((a) => a.candidate === 'webgpu');
    expect(attempt, 'auto tried webgpu').to.not.equal(undefined);
    if (info.name === 'webgpu') {
      expect(info.gpu && 'hardware' in info.gpu && info.gpu.hardware).to.equal(true);
      releaseWebGpu();
    } else {
      expect(attempt!.ok).to.equal(false);
      expect(attempt!.reason).to.match(/no GPU device node|only software WebGPU adapters|no WebGPU adapter|needs the npm package 'webgpu'/);
    }
    await tf.setBackend(previous);
  });
});

describe('webgpu backend', function () {
  this.timeout(600_000);
  let skipReason: string | null = null;
  let previous = 'wasm';

  before(async () => {
    previous = tf.getBackend();
    try {
      const adapter = await startWebGpuBackend({ allowSoftware: true });
      process.stderr.write(`      webgpu adapter: ${adapter.name} (${adapter.backendType}, ${adapter.hardware ? 'hardware' : 'software'})\n`);
      await tf.setBackend(previous);
    } catch (e) {
      skipReason = e instanceof Error ? e.message : String(e);
    }
  });

  after(async () => {
    releaseWebGpu();
    await tf.setBackend(previous);
  });

  beforeEach(function () {
    if (skipReason != null) {
      process.stderr.write(`      skipped: no WebGPU adapter could be created (${skipReason})\n`);
      this.skip();
    }
  });

  /** Run `f` on cpu, then on webgpu, reading every output asynchronously; returns both. */
  async function onBoth(f: () => tf.Tensor[]): Promise<[Float32Array[], Float32Array[]]> {
    const out: Float32Array[][] = [];
    for (const name of ['cpu', 'webgpu']) {
      await tf.setBackend(name);
      const ts = f();
      out.push(await Promise.all(ts.map(read)));
      tf.dispose(ts);
    }
    await tf.setBackend(previous);
    return [out[0], out[1]];
  }

  it('explicit --backend webgpu on a software adapter: the CLI notes that it computes on the CPU; doctor says so', async function () {
    const info = await startWebGpuBackend({ allowSoftware: true });
    if (info.hardware) this.skip(); // a real GPU here: nothing to note
    const selected = await selectBackend('webgpu');
    const report = (await doctorReport('webgpu')).split('\n');
    await tf.setBackend(previous);
    const note =
      `WebGPU runs on ${info.name}, a software adapter that computes on the CPU and is slower than --backend wasm ` +
      '(about 40x for a ResNet-50 forward pass); --require-gpu refuses it';
    expect(backendNotices(selected)).to.deep.equal([note]);
    expect(report[0]).to.match(/^active backend: webgpu \(@tensorflow\/tfjs-backend-webgpu [\d.]+\), on a software adapter \(the CPU\)$/);
    expect(report[1]).to.equal(`note: ${note}`);
    expect(report.find((l) => l.includes('any GPU (Vulkan, Metal, D3D12)'))).to.match(/; this machine has only a software adapter$/);
  });

  it('--require-gpu with a software adapter: one error naming it', async function () {
    const info = await startWebGpuBackend({ allowSoftware: true });
    if (info.hardware) this.skip(); // a real GPU here: nothing to refuse
    let err: Error | undefined;
    await selectBackend('webgpu', { requireGpu: true }).catch((e: Error) => (err = e));
    await tf.setBackend(previous);
    expect(err?.message).to.equal(
      `--require-gpu: backend 'webgpu' (@tensorflow/tfjs-backend-webgpu) computes on a software WebGPU adapter (${info.name}); ` +
        '`resvision doctor` lists the GPUs WebGPU and tfjs-node-gpu see and why each is unavailable',
    );
  });

  it('PadV2 rank 5 and 6: forward and gradient equal cpu exactly (a pad only moves values)', async () => {
    for (const shape of [[2, 3, 2, 3, 2], [2, 1, 3, 2, 3, 2]]) {
      const x = tf.tensor(hashTensorValues(`pad/${shape.length}`, shape), shape);
      const pads = shape.map((_, i) => [i % 2, (i + 1) % 3] as [number, number]);
      const [cpu, gpu] = await onBoth(() => {
        const y = tf.pad(x, pads, 0.5);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.pad(v, pads), tf.pad(v, pads))))(x);
        return [y, g];
      });
      expect(Array.from(gpu[0])).to.deep.equal(Array.from(cpu[0]));
      expect(cpu[0].some((v) => v !== 0.5)).to.equal(true);
      expect(relDiff(gpu[1], cpu[1])).to.be.lessThan(1e-6); // 2x, exact in float32 but for the GPU's FMA
      x.dispose();
    }
  });

  it('grouped conv (ResNeXt, 8 groups of 4, stride 1 and 2): output and both gradients match cpu (rel 1e-5)', async () => {
    // Inputs are made on each backend in turn: a tensor that moved to webgpu cannot be read back synchronously.
    const xv = hashTensorValues('webgpu/gx', [2, 9, 9, 32]);
    const wv = hashTensorValues('webgpu/gw', [3, 3, 4, 16]);
    for (const stride of [1, 2]) {
      const [cpu, gpu] = await onBoth(() =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, [2, 9, 9, 32]);
          const w = tf.tensor4d(wv, [3, 3, 4, 16]);
          const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, { stride, padding: 1, groups: 8 })));
          const [dx, dw] = tf.grads(f)([x, w]);
          return [conv2d(x, w, { stride, padding: 1, groups: 8 }), dx, dw];
        }),
      );
      // Sums of 36 products (forward) and of up to 162 (gradients) in another order: float32 rounding only.
      ['y', 'dx', 'dw'].forEach((name, i) => expect(relDiff(gpu[i], cpu[i]), `stride ${stride} ${name}`).to.be.lessThan(1e-5));
      expect(cpu[2].some((v) => v !== 0)).to.equal(true);
    }
  });

  it('ResNet-18 training step [2,64,64,3], 7 classes: loss, logits and all gradients match cpu (rel 1e-4)', async () => {
    await tf.setBackend('cpu');
    const model = new ResNetClassifier(resnet18(), 7);
    const x = tf.tensor4d(hashTensorValues('webgpu/x', [2, 64, 64, 3]), [2, 64, 64, 3]);
    const labels = tf.tensor1d([3, 5], 'int32');
    const params = model.trainableParameters();
    const [cpu, gpu] = await onBoth(() => {
      const logits = model.forward(x, { training: true });
      const { value, grads } = tf.variableGrads(() => model.computeLosses({ images: x, labels }, { training: true }).classification, params.map(([, v]) => v));
      return [value, logits, ...params.map(([, v]) => grads[v.name])];
    });
    // float32 sums in another order over up to 4608 terms (layer4's 3x3x512 convolutions), through 18 layers of
    // batch norm that rescale the differences: 1e-4 of each tensor's largest magnitude.
    expect(relDiff(gpu[0], cpu[0]), 'loss').to.be.lessThan(1e-4);
    expect(relDiff(gpu[1], cpu[1]), 'logits').to.be.lessThan(1e-4);
    params.forEach(([name], i) => {
      expect(relDiff(gpu[2 + i], cpu[2 + i]), name).to.be.lessThan(1e-4);
      expect(cpu[2 + i].some((v) => v !== 0), `${name} gradient on cpu is zero`).to.equal(true);
    });
    await tf.setBackend('cpu');
    tf.dispose([x, labels]);
    model.dispose();
    await tf.setBackend(previous);
  });

  it('RetinaNet-R18-FPN forward [1,96,128,3], 3 classes: clsLogits and boxDeltas match cpu (rel 1e-4)', async () => {
    await tf.setBackend('cpu');
    const model = retinanetResnet18Fpn({ numClasses: 3 });
    const x = tf.tensor4d(hashTensorValues('webgpu/det', [1, 96, 128, 3]), [1, 96, 128, 3]);
    const [cpu, gpu] = await onBoth(() => {
      const o = model.forward(x, { training: false });
      return [o.clsLogits, o.boxDeltas];
    });
    expect(relDiff(gpu[0], cpu[0]), 'clsLogits').to.be.lessThan(1e-4);
    expect(relDiff(gpu[1], cpu[1]), 'boxDeltas').to.be.lessThan(1e-4);
    await tf.setBackend('cpu');
    x.dispose();
    model.dispose();
    await tf.setBackend(previous);
  });
});
