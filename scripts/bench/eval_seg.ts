/**
 * eval-seg throughput: images per second of `evaluateSegmentationFolders` (file reads, PNG decoding to indices,
 * confusion matrix, metrics) on the VOC segmentation oracle, side by side with the NumPy/PIL reference
 * (scripts/bench/eval_seg_reference.py, same files, same metrics) run by /usr/bin/python3 when it can import numpy
 * and PIL. Each side reports the best of `--repeat` full passes. The two mIoUs are printed too: they must agree.
 *
 * With `--model-latency`, also times one eval-mode forward of DeepLabV3-ResNet-50 (K = 21, random weights, no aux)
 * on a [1, 512, 512, 3] input on the active backend (wasm unless `--backend`), best of 3 after one warm-up, beside
 * torchvision's deeplabv3_resnet50 (scripts/bench/deeplabv3_torch.py, 2 threads) when /usr/bin/python3 has torch.
 *
 * Usage: npx tsx scripts/bench/eval_seg.ts [--gt DIR --pred DIR [--list FILE]] [--repeat 20] [--model-latency]
 *        [--backend wasm|cpu|tensorflow]
 * Default data: ../shared/oracles/voc-seg (12 images, 80x64 to 500x375).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { evaluateSegmentationFolders } from '../../datasets/voc/miou_folders';
import { deeplabv3Resnet50 } from '../../heads/segmentation/model';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { pythonReference } from './common';

const REPO = path.resolve(__dirname, '..', '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function modelLatency(backend: string): Promise<Record<string, unknown>> {
  const info = await selectBackend(backend as BackendChoice);
  const model = deeplabv3Resnet50({ numClasses: 21 });
  const x = tf.randomNormal([1, 512, 512, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const times: number[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const { logits } = model.forward(x, { training: false });
      await logits.data();
      logits.dispose();
      if (i > 0) times.push((performance.now() - t0) / 1000);
    }
  } finally {
    x.dispose();
    model.dispose();
  }
  const ours = { model: 'deeplabv3_resnet50', input: [1, 512, 512, 3], backend: info.name, bestSeconds: Math.min(...times), seconds: times };
  const reference = pythonReference(path.join(__dirname, 'deeplabv3_torch.py'), ['512', '3', '2']);
  const ratio = typeof reference.bestSeconds === 'number' ? ours.bestSeconds / reference.bestSeconds : null;
  return { ...ours, reference, ratio };
}

async function main(): Promise<void> {
  const shared = path.join(path.resolve(REPO, '..', 'shared'), 'oracles', 'voc-seg');
  const gtDir = arg('--gt') ?? path.join(shared, 'gt');
  const predDir = arg('--pred') ?? path.join(shared, 'pred');
  const listFile = arg('--list') ?? (arg('--gt') ? undefined : path.join(shared, 'list.txt'));
  const repeat = Number(arg('--repeat') ?? 20);
  if (!fs.existsSync(gtDir)) throw new Error(`no ground truth at '${gtDir}': pass --gt DIR --pred DIR`);

  const times: number[] = [];
  let result: Awaited<ReturnType<typeof evaluateSegmentationFolders>> | undefined;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    result = await evaluateSegmentationFolders({ gtDir, predDir, listFile, numClasses: 21 });
    times.push((performance.now() - t0) / 1000);
  }
  const images = result!.names.length;
  const best = Math.min(...times);
  const ours = { impl: 'resvision (zlib inflate + typed arrays)', images, bestSeconds: best, imagesPerSecond: images / best, mIoU: result!.metrics.mIoU };

  const py = '/usr/bin/python3';
  const refArgs = [path.join(REPO, 'scripts', 'bench', 'eval_seg_reference.py'), '--gt', gtDir, '--pred', predDir, '--repeat', String(repeat)];
  if (listFile) refArgs.push('--list', listFile);
  const child = spawnSync(py, refArgs, { encoding: 'utf8' });
  let reference: Record<string, unknown> | { unavailable: string };
  if (child.status === 0) reference = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  else reference = { unavailable: `${py} ${path.basename(refArgs[0])} failed: ${(child.stderr || String(child.error)).trim().split('\n').pop()}` };

  const report: Record<string, unknown> = { data: { gtDir, predDir, images }, repeat, ours, reference };
  if ('imagesPerSecond' in reference) {
    report.speedup = ours.imagesPerSecond / (reference.imagesPerSecond as number);
    report.mIoUAbsDiff = Math.abs((ours.mIoU ?? NaN) - (reference.mIoU as number));
  }
  if (process.argv.includes('--model-latency')) report.modelLatency = await modelLatency(arg('--backend') ?? 'wasm');
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
