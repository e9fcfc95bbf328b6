/**
 * Compute backend selection. The engine picks the backend once, at startup; library code never calls
 * `tf.setBackend` itself.
 *
 * Order for `auto`: `@tensorflow/tfjs-node-gpu` (CUDA), `@tensorflow/tfjs-node` (libtensorflow on CPU), `wasm`
 * (XNNPACK, always installed), `cpu` (pure JavaScript, slow). The two native packages are optional peer
 * dependencies: they are loaded when the user installed them, and their absence is reported, never fatal.
 */
import * as tf from '@tensorflow/tfjs';
import { registerCpuKernels, registerWasmTrainingKernels } from '../kernels';

/** A backend the user can ask for. `tensorflow` means tfjs-node-gpu, else tfjs-node. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

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
  /** tfjs backend name: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** Package that provides it and its version. */
  packageName: string;
  version: string;
  /** Threads the backend computes with (1 for the Node wasm build, whose worker threads cannot start). */
  threads: number;
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

async function tryNative(pkg: string, attempts: BackendAttempt[]): Promise<boolean> {
  try {
    require(pkg);
    const ok = await tf.setBackend('tensorflow');
    if (!ok) throw new Error(`${pkg} loaded but the 'tensorflow' backend failed to initialize`);
    await tf.ready();
    attempts.push({ candidate: pkg, ok: true });
    return true;
  } catch (e) {
    attempts.push({ candidate: pkg, ok: false, reason: describeError(e) });
    return false;
  }
}

async function tryTfjsBackend(name: 'wasm' | 'cpu', attempts: BackendAttempt[]): Promise<boolean> {
  const pkg = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
  try {
    if (name === 'wasm') {
      require('@tensorflow/tfjs-backend-wasm');
      registerWasmTrainingKernels();
    } else registerCpuKernels();
    const ok = await tf.setBackend(name);
    if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
    await tf.ready();
    attempts.push({ candidate: pkg, ok: true });
    return true;
  } catch (e) {
    attempts.push({ candidate: pkg, ok: false, reason: describeError(e) });
    return false;
  }
}

/**
 * Select and initialize the compute backend.
 *
 * @param choice `auto` tries tfjs-node-gpu, tfjs-node, wasm, cpu in that order and keeps the first that loads;
 *   any other value tries only that backend (`tensorflow` tries tfjs-node-gpu then tfjs-node).
 * @param opts.probeAll also try (without keeping) every candidate that was not needed, so that `doctor` can report
 *   why each unavailable backend failed.
 * @returns what was selected and every attempt with the loader's message.
 * @throws Error when the requested backend cannot be loaded, with each attempt's reason.
 */
export async function selectBackend(
  choice: BackendChoice = 'auto',
  opts: { probeAll?: boolean } = {},
): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new Error(`unknown backend '${choice}': expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const attempts: BackendAttempt[] = [];
  let selected: { name: string; packageName: string } | undefined;
  const natives = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  if (choice === 'auto' || choice === 'tensorflow') {
    for (const pkg of natives) {
      if (await tryNative(pkg, attempts)) {
        selected = { name: 'tensorflow', packageName: pkg };
        break;
      }
    }
  }
  if (!selected && (choice === 'auto' || choice === 'wasm')) {
    if (await tryTfjsBackend('wasm', attempts)) selected = { name: 'wasm', packageName: '@tensorflow/tfjs-backend-wasm' };
  }
  if (!selected && (choice === 'auto' || choice === 'cpu')) {
    if (await tryTfjsBackend('cpu', attempts)) selected = { name: 'cpu', packageName: '@tensorflow/tfjs-backend-cpu' };
  }
  if (!selected) {
    const lines = attempts.map((a) => `  ${a.candidate}: ${a.reason}`).join('\n');
    const hint =
      choice === 'tensorflow'
        ? '\ninstall one of them (npm install @tensorflow/tfjs-node, or @tensorflow/tfjs-node-gpu with CUDA 11.2 and cuDNN 8.1); `resvision doctor` prints the exact command'
        : '';
    throw new Error(`backend '${choice}' is not available:\n${lines}${hint}`);
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
  return {
    name: selected.name,
    packageName: selected.packageName,
    version: packageVersion(selected.packageName),
    threads: selected.name === 'cpu' || selected.name === 'wasm' ? 1 : require('os').cpus().length,
    attempts,
  };
}
