/**
 * `resvision doctor`: which compute backend is active, why the others are not, every GPU WebGPU sees, what
 * tfjs-node-gpu needs and finds, and how to get the native backends.
 */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import type { BackendChoice, BackendInfo } from '../engine/backend';
import { packageRoot } from '../engine/package_info';
import { backendNotices, EngineOptions } from './common';

/**
 * The version of a native backend package that fits this resvision: its `peerDependencies` entry (the same
 * version as `@tensorflow/tfjs`).
 */
export function nativePeerVersion(pkg: '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu'): string {
  const pj = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
  return pj.peerDependencies?.[pkg] ?? (require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core')).version_core;
}

/** Options of {@link doctorReport}: the global engine options. */
export interface DoctorOptions {
  threads?: number;
  requireGpu?: boolean;
}

/**
 * Text of the doctor report: active backend, version, threads, the reason every other candidate failed, every
 * WebGPU adapter (name, vendor, native API, hardware or software), tfjs-node-gpu and the CUDA/cuDNN libraries it
 * needs (found where, or missing and what provides them), and, when the native backend is not active, the install
 * commands for it (with the CUDA and cuDNN versions that tfjs-node-gpu 4.x requires, per the tfjs-node README).
 * A backend that cannot be loaded is diagnosed, not refused: the report says so and goes on.
 *
 * @returns the report text.
 */
export async function doctorReport(choice: BackendChoice, opts: DoctorOptions = {}): Promise<string> {
  return (await doctorDiagnosis(choice, opts)).text;
}

/** {@link doctorReport} with the facts `--require-gpu` needs. */
export async function doctorDiagnosis(choice: BackendChoice, opts: DoctorOptions = {}): Promise<{ text: string; info?: BackendInfo; onGpu: boolean }> {
  // The engines load here, when the report is asked for, not when the command line is built.
  const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
  const { selectBackend } = require('../engine/backend') as typeof import('../engine/backend');
  const { findCudaLibraries } = require('../engine/cuda_libraries') as typeof import('../engine/cuda_libraries');
  const { availableThreads } = require('../engine/wasm_threads') as typeof import('../engine/wasm_threads');
  const { listGpuAdapters } = require('../engine/webgpu') as typeof import('../engine/webgpu');
  let info: BackendInfo | undefined;
  let failure: string | undefined;
  try {
    info = await selectBackend(choice, { probeAll: true, threads: opts.threads });
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  }
  const lines: string[] = [];
  if (info) {
    const software = info.gpu != null && 'hardware' in info.gpu && !info.gpu.hardware;
    const threadsNote = info.gpu == null ? `threads: ${info.threads}` : software ? 'on a software adapter (the CPU)' : 'on the GPU';
    lines.push(`active backend: ${info.name} (${info.packageName} ${info.version}), ${threadsNote}`);
    for (const n of backendNotices(info, opts.threads)) lines.push(`note: ${n}`);
  } else {
    lines.push(`active backend: none (${failure!.split('\n')[0].replace(/:$/, '')})`);
  }
  lines.push(`tfjs-core: ${tf.version_core}, node: ${process.version}, platform: ${process.platform}-${process.arch}`);
  lines.push('candidates:');
  if (info) {
    for (const a of info.attempts) lines.push(`  ${a.ok ? 'ok  ' : 'no  '} ${a.candidate}${a.ok ? '' : `: ${a.reason}`}`);
  } else {
    for (const l of failure!.split('\n').slice(1)) if (/^  \S/.test(l)) lines.push(`  no   ${l.trim()}`);
  }
  const threads = info?.name === 'wasm' ? info.threads : opts.threads ?? availableThreads();
  lines.push(`threads: ${threads} for wasm (--threads N; default: the ${availableThreads()} cores available)`);
  const gpus = await listGpuAdapters();
  lines.push('webgpu adapters:');
  if (gpus.error) lines.push(`  none listed: ${gpus.error}`);
  else if (gpus.adapters.length === 0) lines.push('  none: no Vulkan, Metal, D3D12 or OpenGL ES adapter was found');
  for (const a of gpus.adapters) {
    lines.push(
      `  ${a.name}: vendor ${a.vendor}, ${a.backendType}, ${a.featureLevel}, ${a.hardware ? 'hardware' : 'software (auto skips it)'}` +
        (a.description ? `; ${a.description}` : ''),
    );
  }
  lines.push('tfjs-node-gpu (needs libtensorflow 2.9 with CUDA 11.2 and cuDNN 8.1):');
  const nodeGpu = info?.attempts.find((a) => a.candidate === '@tensorflow/tfjs-node-gpu');
  if (info?.packageName === '@tensorflow/tfjs-node-gpu') {
    lines.push(`  loaded; ${info.gpu ? 'TensorFlow uses a CUDA device' : 'TensorFlow found no CUDA device and computes on the CPU'}`);
  } else {
    lines.push(`  ${nodeGpu?.reason ?? 'not loaded'}`);
  }
  const libs = findCudaLibraries();
  if (libs.length === 0) lines.push('  CUDA libraries: checked on Linux only');
  for (const l of libs) lines.push(`  ${l.soname}: ${l.foundAt ?? `missing (${l.providedBy})`}`);
  if (info?.name !== 'tensorflow') {
    lines.push(
      'hint: for native speed install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1) next to resvision',
      `  CPU, all cores:   npm install @tensorflow/tfjs-node@${nativePeerVersion('@tensorflow/tfjs-node')}`,
      `  NVIDIA GPU:       npm install @tensorflow/tfjs-node-gpu@${nativePeerVersion('@tensorflow/tfjs-node-gpu')}` +
        '  (Linux x86-64 or Windows; driver > 450, CUDA 11.2, cuDNN 8.1 on the library path)',
      `  any GPU (Vulkan, Metal, D3D12): --backend webgpu (the npm package webgpu: ${webgpuPackageState()})` +
        (gpus.adapters.length > 0 && gpus.adapters.every((a) => !a.hardware) ? '; this machine has only a software adapter' : ''),
    );
  }
  const onGpu = info?.gpu != null && !('hardware' in info.gpu && !info.gpu.hardware);
  return { text: lines.join('\n'), info, onGpu };
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('print the active compute backend, its threads, every GPU WebGPU and tfjs-node-gpu see, and why other backends did not load')
    .action(async () => {
      const o = program.opts<EngineOptions>();
      const d = await doctorDiagnosis(o.backend, { threads: o.threads });
      process.stdout.write(`${d.text}\n`);
      if (o.requireGpu && !d.onGpu) {
        throw new Error(`--require-gpu: backend '${d.info?.name ?? o.backend}' has no GPU here (see the report above)`);
      }
    });
}

/** Whether the optional peer `webgpu` (Dawn's Node bindings) resolves from here: `installed` or how to install it. */
function webgpuPackageState(): string {
  try {
    require.resolve('webgpu');
    return 'installed';
  } catch {
    return 'npm install webgpu';
  }
}
