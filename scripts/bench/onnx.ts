/**
 * ONNX Runtime benchmark: ResNet-50 features (the pooled [N, 2048] embedding) at batch 1 and 8, 224x224 by
 * default, through resvision's ONNX export in onnxruntime-node (CPU, `--threads` intra-op threads, spinning off),
 * through resvision's tfjs model on the selected backend, and through torchvision (`/usr/bin/python3`, same thread
 * count, OMP_WAIT_POLICY=PASSIVE), in one run. Also the export time, ORT's session start and the largest relative
 * difference between ORT's and tfjs's embeddings. Records `/proc/loadavg` before and after (the machine may be
 * shared). Prints one JSON object.
 *
 *   npx tsx scripts/bench/onnx.ts [--size 224] [--repeats 3] [--threads 1] [--backend auto]
 */
import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resnet50 } from '../../src/backbone/resnet';
import { BackendChoice, selectBackend } from '../../src/engine/backend';
import { OnnxRuntimeModel, nhwcToNchw } from '../../src/engine/onnx_runtime';
import { exportOnnx } from '../../src/export/onnx/export';
import { arg, medianMs } from './common';

function loadavg(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').trim();
  } catch {
    return 'unavailable';
  }
}

function torchReference(size: number, repeats: number, threads: number): Record<string, unknown> {
  try {
    const out = execFileSync('/usr/bin/python3', [path.join(__dirname, 'onnx_torch.py'), String(size), String(repeats), String(threads)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  } catch (e) {
    return { error: `reference unavailable: ${String((e as Error).message).split('\n')[0]}` };
  }
}

/** `medianMs` rounded to 0.1 ms. */
async function roundedMedianMs(fn: () => Promise<void>, warmup: number, repeats: number): Promise<number> {
  return Math.round((await medianMs(fn, warmup, repeats)) * 10) / 10;
}

async function main(): Promise<void> {
  const size = Number(arg('size', '224'));
  const repeats = Number(arg('repeats', '3'));
  const threads = Number(arg('threads', '1'));
  const backend = await selectBackend(arg('backend', 'auto') as BackendChoice);
  const loadBefore = loadavg();
  const net = resnet50();
  let t0 = performance.now();
  const exported = exportOnnx({ kind: 'features', backbone: net });
  const exportMs = performance.now() - t0;
  t0 = performance.now();
  const session = await OnnxRuntimeModel.create(exported.bytes, { threads });
  const sessionMs = performance.now() - t0;

  const ort: Record<string, number> = {};
  const tfjs: Record<string, number> = {};
  let maxRelDiff = 0;
  for (const n of [1, 8]) {
    const shape: [number, number, number, number] = [n, size, size, 3];
    const x = tf.randomNormal(shape, 0, 1, 'float32', n) as tf.Tensor4D;
    const nchw = nhwcToNchw(x.dataSync() as Float32Array, shape);
    let ortOut: Float32Array | undefined;
    ort[`features_b${n}_ms`] = await roundedMedianMs(
      async () => {
        ortOut = (await session.run(nchw, [n, 3, size, size])).pooled.data;
      },
      1,
      repeats,
    );
    let tfOut: Float32Array | undefined;
    tfjs[`features_b${n}_ms`] = await roundedMedianMs(
      async () => {
        const y = net.embed(x);
        tfOut = (await y.data()) as Float32Array;
        y.dispose();
      },
      1,
      repeats,
    );
    x.dispose();
    let m = 0;
    let s = 0;
    for (let i = 0; i < tfOut!.length; i++) {
      m = Math.max(m, Math.abs(ortOut![i] - tfOut![i]));
      s = Math.max(s, Math.abs(tfOut![i]));
    }
    maxRelDiff = Math.max(maxRelDiff, m / s);
  }
  await session.release();
  net.dispose();
  const torch = torchReference(size, repeats, threads);
  const loadAfter = loadavg();
  const ratio = (k: string): number | null => (typeof torch[k] === 'number' ? Number(((torch[k] as number) / ort[k]).toFixed(2)) : null);
  process.stdout.write(
    `${JSON.stringify(
      {
        bench: 'onnx',
        model: 'resnet50 features (pooled)',
        size,
        repeats,
        onnxruntime: { impl: 'resvision ONNX export + onnxruntime-node', threads, exportMs: Math.round(exportMs), sessionMs: Math.round(sessionMs), ...ort },
        tfjs: { impl: 'resvision tfjs', backend: backend.name, threads: backend.threads, ...tfjs },
        torchvision: torch,
        torchOverOnnxruntime: { features_b1: ratio('features_b1_ms'), features_b8: ratio('features_b8_ms') },
        onnxruntimeVsTfjsMaxRelDiff: maxRelDiff,
        loadavgBefore: loadBefore,
        loadavgAfter: loadAfter,
        cpus: os.cpus().length,
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
