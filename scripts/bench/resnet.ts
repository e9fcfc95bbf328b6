/**
 * ResNet benchmark: forward latency at batch 1 (eval mode) and one SGD training step at batch 4 (momentum 0.9,
 * weight decay 1e-4; 224x224 by default) on the selected backend, the tensor memory the forward pass keeps for the
 * backward pass ("tape"), peak RSS, the live tensor count before/after and the 1-minute load average (the machine
 * may be shared); side by side with torchvision's model and the ratios when /usr/bin/python3 can import torch.
 * Prints one JSON object.
 *
 * `--threads N` sets the wasm backend's threads and torch's (`torch.set_num_threads`), so both sides use the same
 * count (default: the cores available).
 *
 *   npx tsx scripts/bench/resnet.ts [--model resnet50] [--size 224] [--repeats 5] [--backend auto] [--threads N] [--forward-only]
 */
import * as tf from '@tensorflow/tfjs';
import * as os from 'os';
import * as path from 'path';
import { buildBackbone } from '../../src/backbone/resnet';
import { arg, medianMs, pythonReference } from './common';
import { availableThreads } from '../../src/engine/wasm_threads';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { SgdOptimizer } from '../../src/engine/optimizer';
import { ResNetClassifier } from '../../heads/classification/model';

function torchReference(model: string, size: number, repeats: number, threads: number, forwardOnly: boolean): Record<string, unknown> {
  const args = [model, String(size), String(repeats), String(threads), ...(forwardOnly ? ['--forward-only'] : [])];
  return pythonReference(path.join(__dirname, 'resnet_torch.py'), args);
}

async function main(): Promise<void> {
  const modelName = arg('model', 'resnet50');
  const size = Number(arg('size', '224'));
  const repeats = Number(arg('repeats', '5'));
  const threads = Number(arg('threads', String(availableThreads())));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice, { threads });
  const loadBefore = os.loadavg()[0];
  let peakRss = process.memoryUsage().rss;
  const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

  const model = new ResNetClassifier(buildBackbone(modelName), 1000);
  const tensorsBefore = tf.memory().numTensors;
  const x1 = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const forwardMs = await medianMs(
    async () => {
      const y = model.forward(x1, { training: false });
      await y.data();
      y.dispose();
      sampleRss();
    },
    2,
    repeats,
  );
  x1.dispose();

  // --forward-only: skip the training step (quick thread-count comparisons on a busy machine).
  const forwardOnly = process.argv.includes('--forward-only');
  let trainMs = NaN;
  let tapeBytes = 0;
  if (!forwardOnly) {
    const x4 = tf.randomNormal([4, size, size, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    const y4 = tf.tensor1d([1, 2, 3, 4], 'int32');
    const params = model.trainableParameters();
    const opt = new SgdOptimizer(params, { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    trainMs = await medianMs(
      async () => {
        const bytesBefore = tf.memory().numBytes;
        const { value, grads } = tf.variableGrads(() => {
          const loss = model.computeLosses({ images: x4, labels: y4 }, { training: true }).classification;
          // Everything still alive at the end of the forward pass is held for the backward pass.
          tapeBytes = tf.memory().numBytes - bytesBefore;
          sampleRss();
          return loss;
        }, params.map(([, v]) => v));
        opt.step(grads);
        await value.data();
        value.dispose();
        tf.dispose(grads);
        sampleRss();
      },
      1,
      repeats,
    );
    tf.dispose([x4, y4]);
    opt.dispose();
  }
  const tensorsAfter = tf.memory().numTensors;
  model.dispose();

  const ours = {
    impl: 'resvision',
    backend: backend.name,
    version: backend.version,
    threads: backend.threads,
    forward_b1_ms: forwardMs,
    train_step_b4_ms: trainMs,
    forward_tape_b4_mb: Math.round(tapeBytes / 2 ** 20),
    peak_rss_mb: Math.round(peakRss / 2 ** 20),
    num_tensors_before: tensorsBefore,
    num_tensors_after: tensorsAfter,
  };
  const loadAfter = os.loadavg()[0];
  const ref = torchReference(modelName, size, repeats, threads, forwardOnly);
  const ratios =
    'forward_b1_ms' in ref
      ? {
          forward_ratio: forwardMs / (ref.forward_b1_ms as number),
          train_step_ratio: trainMs / (ref.train_step_b4_ms as number),
        }
      : {};
  process.stdout.write(`${JSON.stringify({
        benchmark: 'resnet',
        model: modelName,
        size,
        repeats,
        cpus: os.cpus().length,
        load_avg_1m: { before: loadBefore, after: loadAfter, after_reference: os.loadavg()[0] },
        resvision: ours,
        reference: ref,
        ...ratios,
      }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
