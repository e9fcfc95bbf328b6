/**
 * The ceiling of the wasm backend on one core, beside torch on one core, printing JSON:
 *  - the peak float32 multiply + add rate of WebAssembly SIMD128 on this CPU (simd_peak.wat: independent
 *    f32x4.mul / f32x4.add pairs, the inner loop of a GEMM micro-kernel; SIMD128 has no fused multiply-add and
 *    4 lanes, where x86-64 AVX2/AVX-512 FMA does 2 flops on 8 or 16 lanes per instruction);
 *  - what tfjs-backend-wasm's XNNPACK kernels reach: a 1024x1024x1024 matMul and a ResNet-50 3x3 convolution
 *    (256 -> 256 channels, batch 4 at 14x14), and a ResNet-50 forward pass (batch 1, 224);
 *  - torch's figures for the same three (simd_peak_torch.py, one thread);
 *  - the floor this puts on the wasm forward pass: ResNet-50's 4.09 G multiply-adds at the SIMD128 peak, and that
 *    floor over torch's measured forward time (no wasm kernel can go below it on this CPU).
 * GFLOP/s count 2 flops per multiply-add. One thread on every side (wasm threads scale the kernels, not the ceiling
 * per core).
 *
 *   npx tsx scripts/bench/simd_peak.ts [--repeats 7]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';
import * as path from 'path';
import { buildBackbone } from '../../src/backbone/resnet';
import { selectBackend } from '../../src/engine/backend';
import { ResNetClassifier } from '../../heads/classification/model';
import { arg, backendFields, medianMs, printReport, pythonReference, resnet50Macs, runMain } from './common';

/** simd_peak.wat assembled by `wat2wasm` (WABT 1.0.32), base64. */
const PEAK_WASM_BASE64 = 'AGFzbQEAAAABBgFgAX8BfQMCAQAHCAEEcGVhawAACqQDAaEDARl7Q19wiTD9EyEZQwAAgD/9EyEBQ65HgT/9EyEDQ1yPgj/9EyEFQwrXgz/9EyEHQ7gehT/9EyEJQ2Zmhj/9EyELQxSuhz/9EyENQ8P1iD/9EyEPQ3E9ij/9EyERQx+Fiz/9EyETQ83MjD/9EyEVQ3sUjj/9EyEXAkADQCAARQ0BIAMgGf3mASECIAUgGf3mASEEIAcgGf3mASEGIAkgGf3mASEIIAsgGf3mASEKIA0gGf3mASEMIA8gGf3mASEOIBEgGf3mASEQIBMgGf3mASESIBUgGf3mASEUIBcgGf3mASEWIAEgGf3mASEYIAEgAv3kASEBIAMgBP3kASEDIAUgBv3kASEFIAcgCP3kASEHIAkgCv3kASEJIAsgDP3kASELIA0gDv3kASENIA8gEP3kASEPIBEgEv3kASERIBMgFP3kASETIBUgFv3kASEVIBcgGP3kASEXIABBAWshAAwACwsgASAD/eQBIAX95AEgB/3kASAJ/eQBIAv95AEgDf3kASAP/eQBIBH95AEgE/3kASAV/eQBIBf95AH9HwAL';
/** Multiply + add pairs per loop iteration in simd_peak.wat, 4 lanes each. */
const PAIRS_PER_ITERATION = 12;

/** Peak SIMD128 GFLOP/s on this core: median of `repeats` runs of 2e7 iterations. */
async function simdPeakGflops(repeats: number): Promise<number> {
  // The project's TypeScript lib has no WebAssembly types: the two constructors used, typed here.
  const wasm = (globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object) => { exports: { peak: (iters: number) => number } };
    };
  }).WebAssembly;
  const peak = new wasm.Instance(new wasm.Module(Buffer.from(PEAK_WASM_BASE64, 'base64'))).exports.peak;
  const iters = 2e7;
  const ms = await medianMs(async () => void peak(iters), 1, repeats);
  return (iters * PAIRS_PER_ITERATION * 2 * 4) / ms / 1e6;
}

async function main(): Promise<void> {
  const repeats = Number(arg('repeats', '7'));
  const backend = await selectBackend('wasm', { threads: 1 });
  const loadBefore = os.loadavg()[0];
  const simdGflops = await simdPeakGflops(repeats);

  // wasm kernels run synchronously: the result is complete when the call returns (no read-back is timed).
  const timed = (f: () => tf.Tensor) => medianMs(async () => f().dispose(), 2, repeats);
  const a = tf.randomNormal([1024, 1024]);
  const b = tf.randomNormal([1024, 1024]);
  const gemmMs = await timed(() => tf.matMul(a, b));
  const x = tf.randomNormal([4, 14, 14, 256]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 256, 256]) as tf.Tensor4D;
  const convMs = await timed(() => tf.conv2d(x, w, 1, 'same'));
  tf.dispose([a, b, x, w]);
  const model = new ResNetClassifier(buildBackbone('resnet50'), 1000);
  const image = tf.randomNormal([1, 224, 224, 3]) as tf.Tensor4D;
  const forwardMs = await timed(() => model.forward(image, { training: false }));
  image.dispose();

  const forwardFloorMs = (2 * resnet50Macs(224)) / simdGflops / 1e6;
  const ours = {
    ...backendFields(backend),
    simd128_peak_gflops: simdGflops,
    gemm_1024_ms: gemmMs,
    gemm_gflops: (2 * 1024 ** 3) / gemmMs / 1e6,
    gemm_fraction_of_peak: (2 * 1024 ** 3) / gemmMs / 1e6 / simdGflops,
    conv3x3_ms: convMs,
    conv3x3_gflops: (2 * 4 * 14 * 14 * 256 * 256 * 9) / convMs / 1e6,
    resnet50_forward_b1_ms: forwardMs,
    resnet50_forward_floor_ms: forwardFloorMs,
  };
  printReport(
    { benchmark: 'simd_peak', resnet50_gmacs: resnet50Macs(224) / 1e9 },
    repeats,
    loadBefore,
    ours,
    () => pythonReference(path.join(__dirname, 'simd_peak_torch.py'), [String(repeats)]),
    { gemm_ratio: 'gemm_1024_ms', conv3x3_ratio: 'conv3x3_ms', resnet50_forward_ratio: 'resnet50_forward_b1_ms' },
    // The lowest forward ratio any SIMD128 kernel could reach here.
    (ref) => (typeof ref.resnet50_forward_b1_ms === 'number'
      ? { resnet50_forward_floor_ratio: forwardFloorMs / ref.resnet50_forward_b1_ms }
      : {}),
  );
}

runMain(main);
