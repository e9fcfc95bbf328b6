/**
 * Per-kernel profile of one training step (forward, backward, SGD update) on the wasm backend, printing JSON: a ResNet
 * classifier at `--batch` x `--size`, or with `--model retinanet` / `faster_rcnn` the R50-FPN detector step of
 * retinanet.ts / faster_rcnn.ts (batch 1, a 512x683 image padded to 512x704, two ground-truth boxes, torchvision's
 * frozen stem, layer1 and BatchNorm).
 *
 * Every kernel registered for wasm is wrapped with a timer; a kernel that runs other kernels through the engine
 * (the project's gradient kernels do) is charged only its own time ("self"), so the kernel times add up to the
 * time spent inside kernels, and `outsideKernelsMs` is the rest of the step (tape bookkeeping, JS glue).
 *
 * With `--ab`, the step alternates between the stock tfjs-backend-wasm kernels and the project's replacements
 * (`Slice`, `SplitV`, `MaxPoolGrad`, `Identity`; see src/kernels/index.ts), one step each in turn, and reports
 * the median of each side: an A/B in the same process, fair on a machine whose load changes over time.
 *
 * `--threads N` sets the wasm backend's threads (default: the cores available).
 *
 *   npx tsx scripts/bench/step_profile.ts [--model resnet50|retinanet|faster_rcnn] [--batch 4] [--size 224] [--repeats 3] [--ab] [--top 25] [--shapes 3] [--threads N]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import { buildBackbone } from '../../src/backbone/resnet';
import { selectBackend } from '../../src/engine/backend';
import { SgdOptimizer } from '../../src/engine/optimizer';
import { WASM_TRAINING_KERNELS } from '../../src/kernels';
import { ResNetClassifier } from '../../heads/classification/model';
import { retinanetResnet50Fpn } from '../../heads/detection/model';
import { fasterrcnnResnet50Fpn } from '../../heads/detection/faster_rcnn';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Per-kernel accumulated self time, call count and the most expensive input shapes. */
interface KernelStat {
  ms: number;
  calls: number;
  byShape: Map<string, { ms: number; calls: number }>;
}

/** Kernel timers: the active kernel function per name can be swapped (stock / project) while timing stays on. */
class KernelTimers {
  readonly stats = new Map<string, KernelStat>();
  private readonly stack: number[] = [];
  /** The kernel function that runs for each name; starts as the registered one. */
  readonly active = new Map<string, tf.KernelConfig>();

  install(): void {
    for (const config of tf.getKernelsForBackend('wasm')) {
      const name = config.kernelName;
      this.active.set(name, config);
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel({
        kernelName: name,
        backendName: 'wasm',
        kernelFunc: (args) => this.run(name, args),
      });
    }
  }

  private run(name: string, args: Parameters<tf.KernelFunc>[0]): ReturnType<tf.KernelFunc> {
    const config = this.active.get(name)!;
    this.stack.push(0);
    const t0 = performance.now();
    const out = config.kernelFunc(args);
    const total = performance.now() - t0;
    const children = this.stack.pop()!;
    if (this.stack.length) this.stack[this.stack.length - 1] += total;
    const self = total - children;
    let s = this.stats.get(name);
    if (s == null) this.stats.set(name, (s = { ms: 0, calls: 0, byShape: new Map() }));
    s.ms += self;
    s.calls++;
    const key = Object.values(args.inputs).filter((t) => t != null).map((t) => `[${(t as tf.TensorInfo).shape}]`).join(' ');
    const b = s.byShape.get(key) ?? { ms: 0, calls: 0 };
    b.ms += self;
    b.calls++;
    s.byShape.set(key, b);
    return out;
  }

  reset(): void {
    this.stats.clear();
  }
}

/** Kernels that have a stock wasm implementation which the project replaces for speed (the A/B pairs). */
const AB_KERNELS = ['Slice', 'SplitV', 'MaxPoolGrad', 'Identity'];

/** The profiled model, its inputs and its training loss. */
function buildStep(modelName: string, batch: number, size: number): {
  model: { trainableParameters(): [string, tf.Variable][]; dispose(): void };
  x: tf.Tensor4D;
  y: tf.Tensor;
  loss: () => tf.Scalar;
} {
  const targets = [{ boxes: Float32Array.from([10, 10, 60, 70, 100, 100, 150, 140]), labels: Int32Array.from([0, 1]) }];
  if (modelName === 'retinanet') {
    const model = retinanetResnet50Fpn({ numClasses: 91 });
    const x = tf.randomNormal([1, 512, 704, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const loss = () => {
      const l = model.computeLosses({ images: x, targets }, { training: true });
      return tf.add(l.classification, l.boxRegression) as tf.Scalar;
    };
    return { model, x, y: tf.scalar(0), loss };
  }
  if (modelName === 'faster_rcnn') {
    const model = fasterrcnnResnet50Fpn({ numClasses: 90 });
    const x = tf.randomNormal([1, 512, 704, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const imageSizes = [{ height: 512, width: 683 }];
    const loss = () => tf.addN(Object.values(model.computeLosses({ images: x, targets, imageSizes }, { training: true }))) as tf.Scalar;
    return { model, x, y: tf.scalar(0), loss };
  }
  const model = new ResNetClassifier(buildBackbone(modelName), 1000);
  const x = tf.randomNormal([batch, size, size, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i + 1), 'int32');
  const loss = () => model.computeLosses({ images: x, labels: y }, { training: true }).classification;
  return { model, x, y, loss };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const modelName = arg('model', 'resnet50');
  const batch = Number(arg('batch', '4'));
  const size = Number(arg('size', '224'));
  const repeats = Number(arg('repeats', '3'));
  const top = Number(arg('top', '25'));
  const shapesPerKernel = Number(arg('shapes', '3'));
  const ab = process.argv.includes('--ab');

  // The stock kernels that the project replaces, captured before registration replaces them.
  require('@tensorflow/tfjs-backend-wasm');
  const replaced = WASM_TRAINING_KERNELS.map((k) => k.kernelName);
  const stock = new Map<string, tf.KernelConfig>();
  for (const name of replaced) {
    const k = tf.getKernel(name, 'wasm');
    if (k) stock.set(name, k);
  }
  const threadsArg = arg('threads', '');
  const backend = await selectBackend('wasm', { threads: threadsArg ? Number(threadsArg) : undefined });
  for (const k of stock.values()) k.setupFunc?.(tf.backend());
  const ours = new Map(replaced.map((name) => [name, tf.getKernel(name, 'wasm')!]));
  const timers = new KernelTimers();
  timers.install();
  // A/B swaps only kernels with a stock counterpart (gradients the stock backend lacks stay in both sides).
  const swappable = [...stock.keys()].filter((n) => AB_KERNELS.includes(n));
  const useKernels = (side: 'stock' | 'ours') => {
    for (const name of swappable) timers.active.set(name, side === 'stock' ? stock.get(name)! : ours.get(name)!);
  };

  const { model, x, y, loss } = buildStep(modelName, batch, size);
  const params = model.trainableParameters();
  const opt = new SgdOptimizer(params, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const step = async (): Promise<number> => {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(loss, params.map(([, v]) => v));
    opt.step(grads);
    await value.data();
    value.dispose();
    tf.dispose(grads);
    return performance.now() - t0;
  };

  const load = [os.loadavg()[0]];
  const tensorsBefore = tf.memory().numTensors;
  const sides: Array<'stock' | 'ours'> = ab ? ['stock', 'ours'] : ['ours'];
  const times: Record<string, number[]> = { stock: [], ours: [] };
  const profiles: Record<string, Map<string, KernelStat>> = {};
  for (const side of sides) {
    useKernels(side);
    await step(); // warm-up per side
  }
  for (let r = 0; r < repeats; r++) {
    for (const side of sides) {
      useKernels(side);
      timers.reset();
      times[side].push(await step());
      if (r === repeats - 1) profiles[side] = new Map(timers.stats);
    }
  }
  load.push(os.loadavg()[0]);
  useKernels('ours');

  const report = (side: string) => {
    const stats = profiles[side];
    const stepMs = times[side][times[side].length - 1];
    const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
    const kernelMs = rows.reduce((a, [, s]) => a + s.ms, 0);
    return {
      stepMsMedian: +median(times[side]).toFixed(1),
      stepMsAll: times[side].map((t) => +t.toFixed(1)),
      profiledStepMs: +stepMs.toFixed(1),
      kernelsMs: +kernelMs.toFixed(1),
      outsideKernelsMs: +(stepMs - kernelMs).toFixed(1),
      kernels: rows.slice(0, top).map(([name, s]) => ({
        kernel: name,
        selfMs: +s.ms.toFixed(1),
        calls: s.calls,
        topShapes: [...s.byShape.entries()]
          .sort((a, b) => b[1].ms - a[1].ms)
          .slice(0, shapesPerKernel)
          .map(([shape, b]) => ({ inputs: shape, ms: +b.ms.toFixed(1), calls: b.calls })),
      })),
    };
  };
  const out: Record<string, unknown> = {
    benchmark: 'step_profile',
    model: modelName,
    batch,
    size,
    repeats,
    backend: `${backend.name} ${backend.version}`,
    cpus: os.cpus().length,
    load_avg_1m: { before: load[0], after: load[1] },
    replaced_kernels: swappable,
  };
  for (const side of sides) out[side] = report(side);
  if (ab) out.speedup = +(median(times.stock) / median(times.ours)).toFixed(3);
  tf.dispose([x, y]);
  opt.dispose();
  out.num_tensors = { before: tensorsBefore, after: tf.memory().numTensors };
  model.dispose();
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
