/**
 * Compute backend selection. The engine picks the backend once, at startup; library code never calls
 * `tf.setBackend` itself.
 *
 * Order for `auto`: `@tensorflow/tfjs-node-gpu` (CUDA), `webgpu` on a hardware adapter (any Vulkan, Metal or D3D12
 * GPU; a software rasteriser is slower than wasm and is skipped), `@tensorflow/tfjs-node` (libtensorflow on CPU),
 * `wasm` (XNNPACK, always installed, threaded: see `wasm_threads.ts`), `cpu` (pure JavaScript, slow). The native
 * packages and `webgpu` are optional: they are loaded when installed, and their absence is reported, never fatal.
 */
import * as tf from '@tensorflow/tfjs-core';
// The cpu backend is the last resort of every choice and what the kernels' reference tests compare with.
import '@tensorflow/tfjs-backend-cpu';
// Gradients of the core ops (the @tensorflow/tfjs bundle registers them; tfjs-core alone does not, and ships them
// only as ES modules Node cannot load: scripts/build_tfjs_gradients.mjs bundles them).
import '../vendor/tfjs_core_gradients';
import { registerCpuKernels, registerWasmTrainingKernels } from '../kernels';
import { startWasmBackend } from './wasm_threads';
import { GpuAdapterReport, startWebGpuBackend } from './webgpu';

/** A backend the user can ask for. `tensorflow` means tfjs-node-gpu, else tfjs-node. */
import { BACKEND_CHOICES, type BackendChoice } from './backend_choices';

export { BACKEND_CHOICES, type BackendChoice };

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /**
   * also try (without keeping) every candidate that was not needed, so that `doctor` can report why each
   * unavailable backend failed.
   */
  probeAll?: boolean;
  /**
   * Threads for the wasm backend (XNNPACK's pool, the calling thread included). Default: the cores available to
   * the process (`os.availableParallelism()`). 1 loads the single-thread build. Outputs are bit-identical across
   * counts; on a busy machine fewer threads can be faster.
   */
  threads?: number;
  /** Fail unless the selected backend computes on a GPU (tfjs-node-gpu with a CUDA device, or a hardware WebGPU adapter). */
  requireGpu?: boolean;
}

/** The outcome of trying one backend. */
export interface BackendAttempt {
  /** What was tried: a package name or a tfjs backend name. */
  candidate: string;
  ok: boolean;
  /** The loader's own message when `ok` is false. */
  reason?: string;
}

/** What `selectBackend` settled on. */
export interface BackendInfo {
  /** tfjs backend name: `tensorflow`, `webgpu`, `wasm` or `cpu`. */
  name: string;
  /** Package that provides it and its version. */
  packageName: string;
  version: string;
  /** Threads the backend computes with on the CPU (wasm: XNNPACK's pool as the backend reports it). */
  threads: number;
  /** The GPU it computes on: the WebGPU adapter, or `cuda` for tfjs-node-gpu; absent on the CPU. */
  gpu?: GpuAdapterReport | { name: 'cuda' };
  attempts: BackendAttempt[];
}

function packageVersion(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function describeError(e: unknown): string {
  if (e && typeof e === 'object' && 'code' in e && (e as { code?: string }).code === 'MODULE_NOT_FOUND') {
    const msg = String((e as unknown as Error).message).split('\n')[0];
    return `module not installed (${msg})`;
  }
  return String(e instanceof Error ? e.message : e).split('\n').slice(0, 3).join(' ');
}

/**
 * Run `start` (load a backend package and make it the current backend), wait for tfjs, and record the outcome for
 * `pkg` in `attempts`. @returns whether the backend started; a failure is recorded, never thrown.
 */
async function attempt(pkg: string, attempts: BackendAttempt[], start: () => Promise<void>): Promise<boolean> {
  try {
    await start();
    await tf.ready();
    attempts.push({ candidate: pkg, ok: true });
    return true;
  } catch (e) {
    attempts.push({ candidate: pkg, ok: false, reason: describeError(e) });
    return false;
  }
}

function tryNative(pkg: string, attempts: BackendAttempt[]): Promise<boolean> {
  return attempt(pkg, attempts, async () => {
    require(pkg);
    const ok = await tf.setBackend('tensorflow');
    if (!ok) throw new Error(`${pkg} loaded but the 'tensorflow' backend failed to initialize`);
  });
}

function tryTfjsBackend(name: 'wasm' | 'cpu', attempts: BackendAttempt[], threads: number | undefined): Promise<boolean> {
  const pkg = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
  return attempt(pkg, attempts, async () => {
    if (name === 'wasm') {
      require('@tensorflow/tfjs-backend-wasm');
      registerWasmTrainingKernels();
      await startWasmBackend(threads);
    } else {
      registerCpuKernels();
      const ok = await tf.setBackend(name);
      if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
    }
  });
}

async function tryWebGpu(attempts: BackendAttempt[], allowSoftware: boolean): Promise<GpuAdapterReport | null> {
  try {
    const adapter = await startWebGpuBackend({ allowSoftware });
    attempts.push({ candidate: 'webgpu', ok: true });
    return adapter;
  } catch (e) {
    attempts.push({ candidate: 'webgpu', ok: false, reason: describeError(e) });
    return null;
  }
}

/** Whether tfjs-node-gpu sees a CUDA device (TensorFlow logs it; tfjs exposes no device list). */
function nativeGpuDevice(pkg: string): boolean {
  if (pkg !== '@tensorflow/tfjs-node-gpu') return false;
  try {
    const binding = (tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } }).binding;
    return binding?.isUsingGpuDevice?.() ?? true;
  } catch {
    return false;
  }
}

/**
 * Select and initialize the compute backend.
 *
 * @param choice `auto` tries tfjs-node-gpu, WebGPU on a hardware adapter, tfjs-node, wasm, cpu in that order and
 *   keeps the first that loads; any other value tries only that backend (`tensorflow` tries tfjs-node-gpu then
 *   tfjs-node; `webgpu` accepts a software adapter too).
 * @param opts see {@link SelectBackendOptions}.
 * @returns what was selected and every attempt with the loader's message.
 * @throws Error when the requested backend cannot be loaded, with each attempt's reason; or, with `requireGpu`,
 *   when the selected backend has no GPU.
 */
export async function selectBackend(choice: BackendChoice = 'auto', opts: SelectBackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`unknown backend '${choice}': expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const threads = opts.threads;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new Error(`threads must be a positive integer, got ${threads}`);
  }
  const attempts: BackendAttempt[] = [];
  let selected: { name: string; packageName: string; gpu?: BackendInfo['gpu'] } | undefined;
  const natives = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  if (choice === 'auto' || choice === 'tensorflow') {
    for (const pkg of choice === 'auto' ? natives.slice(0, 1) : natives) {
      if (await tryNative(pkg, attempts)) {
        selected = { name: 'tensorflow', packageName: pkg, gpu: nativeGpuDevice(pkg) ? { name: 'cuda' } : undefined };
        break;
      }
    }
  }
  if (!selected && (choice === 'auto' || choice === 'webgpu')) {
    const adapter = await tryWebGpu(attempts, choice === 'webgpu');
    if (adapter) selected = { name: 'webgpu', packageName: '@tensorflow/tfjs-backend-webgpu', gpu: adapter };
  }
  if (!selected && choice === 'auto' && (await tryNative(natives[1], attempts))) {
    selected = { name: 'tensorflow', packageName: natives[1] };
  }
  if (!selected && (choice === 'auto' || choice === 'wasm')) {
    if (await tryTfjsBackend('wasm', attempts, threads)) selected = { name: 'wasm', packageName: '@tensorflow/tfjs-backend-wasm' };
  }
  if (!selected && (choice === 'auto' || choice === 'cpu')) {
    if (await tryTfjsBackend('cpu', attempts, threads)) selected = { name: 'cpu', packageName: '@tensorflow/tfjs-backend-cpu' };
  }
  if (!selected) {
    const lines = attempts.map((a) => `  ${a.candidate}: ${a.reason}`).join('\n');
    const hint =
      choice === 'tensorflow'
        ? '\ninstall one of them (npm install @tensorflow/tfjs-node, or @tensorflow/tfjs-node-gpu with CUDA 11.2 and cuDNN 8.1); `resvision doctor` prints the exact command'
        : choice === 'webgpu'
          ? '\n`resvision doctor` lists the adapters WebGPU sees'
          : '';
    throw new Error(`backend '${choice}' is not available:\n${lines}${hint}`);
  }
  if (opts.requireGpu && (selected.gpu == null || ('hardware' in selected.gpu && !selected.gpu.hardware))) {
    const what = selected.gpu != null && 'hardware' in selected.gpu ? `a software WebGPU adapter (${selected.gpu.name})` : 'the CPU';
    throw new Error(
      `--require-gpu: backend '${selected.name}' (${selected.packageName}) computes on ${what}; ` +
        '`resvision doctor` lists the GPUs WebGPU and tfjs-node-gpu see and why each is unavailable',
    );
  }
  if (opts.probeAll) {
    const tried = new Set(attempts.map((a) => a.candidate));
    for (const pkg of natives) {
      if (tried.has(pkg)) continue;
      try {
        require.resolve(pkg);
        attempts.push({ candidate: pkg, ok: false, reason: 'installed but not selected' });
      } catch (e) {
        attempts.push({ candidate: pkg, ok: false, reason: describeError(e) });
      }
    }
  }
  let backendThreads = require('os').cpus().length as number;
  if (selected.name === 'cpu' || selected.name === 'webgpu') backendThreads = 1;
  if (selected.name === 'wasm') backendThreads = (require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount();
  return {
    name: selected.name,
    packageName: selected.packageName,
    version: packageVersion(selected.packageName),
    threads: backendThreads,
    gpu: selected.gpu,
    attempts,
  };
}
