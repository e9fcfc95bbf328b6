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
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import * as path from 'path';
import { buildBackbone } from '../../src/backbone/resnet';
import { arg, backendFields, medianMs, PeakRss, printReport, pythonReference, runMain, sgdStepMs } from './common';
import { availableThreads } from '../../src/engine/wasm_threads';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { ResNetClassifier } from '../../heads/classification/model';

async function main(): Promise<void> {
  const modelName = arg('model', 'resnet50');
  const size = Number(arg('size', '224'));
  const repeats = Number(arg('repeats', '5'));
  const threads = Number(arg('threads', String(availableThreads())));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice, { threads });
  const loadBefore = os.loadavg()[0];
  const rss = new PeakRss();

  const model = new ResNetClassifier(buildBackbone(modelName), 1000);
  const tensorsBefore = tf.memory().numTensors;
  const x1 = tf.randomNormal([1, size, size, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const forwardMs = await medianMs(
    async () => {
      const y = model.forward(x1, { training: false });
      await y.data();
      y.dispose();
      rss.sample();
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
    trainMs = await sgdStepMs(
      model,
      () => {
        const bytesBefore = tf.memory().numBytes;
        const loss = model.computeLosses({ images: x4, labels: y4 }, { training: true }).classification;
        // Everything still alive at the end of the forward pass is held for the backward pass.
        tapeBytes = tf.memory().numBytes - bytesBefore;
        rss.sample();
        return loss;
      },
      1,
      repeats,
      rss.sample,
    );
    tf.dispose([x4, y4]);
  }
  const tensorsAfter = tf.memory().numTensors;
  model.dispose();

  const ours = {
    ...backendFields(backend),
    forward_b1_ms: forwardMs,
    train_step_b4_ms: trainMs,
    forward_tape_b4_mb: Math.round(tapeBytes / 2 ** 20),
    peak_rss_mb: rss.mb,
    num_tensors_before: tensorsBefore,
    num_tensors_after: tensorsAfter,
  };
  const refArgs = [modelName, String(size), String(repeats), String(threads), ...(forwardOnly ? ['--forward-only'] : [])];
  printReport(
    { benchmark: 'resnet', model: modelName, size },
    repeats,
    loadBefore,
    ours,
    () => pythonReference(path.join(__dirname, 'resnet_torch.py'), refArgs),
    { forward_ratio: 'forward_b1_ms', train_step_ratio: 'train_step_b4_ms' },
  );
}

runMain(main);
