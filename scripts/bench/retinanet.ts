/**
 * RetinaNet-R50-FPN benchmark at shorter side 512 (a 4:3 image: 512x683, padded to 512x704 as the batch collate
 * does): inference latency at batch 1 (`predict`, with post-processing) and one SGD training step at batch 1 (two
 * ground-truth boxes; momentum 0.9, weight decay 1e-4; FrozenBatchNorm2d, stem and layer1 frozen as torchvision with
 * pretrained weights) on the selected backend, peak RSS, live tensors before/after and the 1-minute load average
 * (the machine may be shared); side by side with torchvision's RetinaNet (same architecture, torch threads 2 by
 * default) when /usr/bin/python3 can import torch, with the ratios. Prints one JSON object.
 *
 * `--threads N` sets the wasm backend's threads (default: the cores available); `--torch-threads` defaults to the same.
 *
 *   npx tsx scripts/bench/retinanet.ts [--short 512] [--repeats 3] [--threads N] [--torch-threads N] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs-core';
import { arg, runDetectorBenchmark, runMain } from './common';
import { availableThreads } from '../../src/engine/wasm_threads';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { retinanetResnet50Fpn } from '../../heads/detection/model';

async function main(): Promise<void> {
  const short = Number(arg('short', '512'));
  const repeats = Number(arg('repeats', '3'));
  const threads = Number(arg('threads', String(availableThreads())));
  const torchThreads = Number(arg('torch-threads', String(threads)));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice, { threads });
  await runDetectorBenchmark(
    { benchmark: 'retinanet', model: 'retinanet_resnet50_fpn', torchScript: 'retinanet_torch.py' },
    () => {
      const model = retinanetResnet50Fpn({ numClasses: 91 });
      return {
        trainableParameters: () => model.trainableParameters(),
        predict: (x, size) => model.predict({ images: x, imageSizes: [size] }),
        totalLoss: (x, targets) => {
          const l = model.computeLosses({ images: x, targets }, { training: true });
          return tf.add(l.classification, l.boxRegression) as tf.Scalar;
        },
        dispose: () => model.dispose(),
      };
    },
    backend,
    { short, repeats, torchThreads },
  );
}

runMain(main);
