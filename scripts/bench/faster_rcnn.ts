/**
 * Faster R-CNN-R50-FPN benchmark at shorter side 512 (a 4:3 image: 512x683, padded to 512x704 as the batch collate
 * does): inference latency at batch 1 (`predict`, with post-processing) and one SGD training step at batch 1 (two
 * ground-truth boxes; momentum 0.9, weight decay 1e-4; FrozenBatchNorm2d, stem and layer1 frozen as torchvision with
 * pretrained weights) on the selected backend, peak RSS, live tensors before/after and the 1-minute load average
 * (the machine may be shared); side by side with torchvision's Faster R-CNN (same architecture, torch threads 2 by
 * default) when /usr/bin/python3 can import torch, with the ratios. Prints one JSON object.
 *
 *   npx tsx scripts/bench/faster_rcnn.ts [--short 512] [--repeats 3] [--torch-threads 2] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs-core';
import { arg, runDetectorBenchmark, runMain } from './common';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { fasterrcnnResnet50Fpn } from '../../heads/detection/faster_rcnn';

async function main(): Promise<void> {
  const short = Number(arg('short', '512'));
  const repeats = Number(arg('repeats', '3'));
  const torchThreads = Number(arg('torch-threads', '2'));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice);
  await runDetectorBenchmark(
    { benchmark: 'faster_rcnn', model: 'fasterrcnn_resnet50_fpn', torchScript: 'faster_rcnn_torch.py' },
    () => {
      const model = fasterrcnnResnet50Fpn({ numClasses: 90 });
      return {
        trainableParameters: () => model.trainableParameters(),
        predict: (x, size) => model.predict({ images: x, imageSizes: [size] }),
        totalLoss: (x, targets, size) =>
          tf.addN(Object.values(model.computeLosses({ images: x, targets, imageSizes: [size] }, { training: true }))) as tf.Scalar,
        dispose: () => model.dispose(),
      };
    },
    backend,
    { short, repeats, torchThreads },
  );
}

runMain(main);
