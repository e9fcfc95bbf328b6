/**
 * Start tfjs-backend-wasm's threaded build (XNNPACK with a pthread pool) under Node.
 *
 * tfjs-backend-wasm 4.x ships a threaded SIMD binary but never starts it under Node. Five things stop it, each
 * enough alone, and this module handles each one from outside the package, only while the backend starts:
 *
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` (flags_wasm.js) answers false whenever `IS_NODE`: the flag is set to true
 *    before the backend initializes, so the threaded binary is chosen.
 * 2. The emscripten glue spawns each pthread with `new Worker(blobUrl)`, and Node's `worker_threads.Worker` refuses
 *    `blob:` URLs. A global `Worker` ({@link PthreadWorker}) built on `worker_threads` starts the package's own
 *    worker source (`wasm-out/*.worker.js`, the text the package would have put in the blob) with `eval: true`.
 * 3. The glue then sends each worker its own factory as a Blob of the Node bundle's source, in which `require('fs')`
 *    became a bundle variable that does not exist in the worker. The worker is pointed at the package's unbundled
 *    glue file (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) instead.
 * 4. The C++ side (`init_with_threads_count`) caps the pool at logical cores / 2, which the glue reads from
 *    `os.cpus()` under Node: a 2-core machine would get one thread whatever is asked. While the backend starts,
 *    `os.cpus()` reports twice the requested count, so the cap is the request.
 * 5. The glue `ref()`s a worker while it runs a pthread, and XNNPACK's pool threads never return: the process would
 *    never exit. Workers stay unref'd; the pool threads block in `Atomics.wait` on shared memory and need no event
 *    loop.
 *
 * Every pthread is created during `tf.setBackend('wasm')` (the glue pre-spawns 8 workers and XNNPACK creates its
 * threads - 1 pool threads in `init_with_threads_count`), so the global `Worker` and the patched `os.cpus` are
 * restored as soon as the backend is ready. Outputs are bit-identical to the single-thread SIMD build: XNNPACK
 * splits work by output tiles, never a reduction.
 *
 * {@link checkThreadedWasmPackage} re-checks the installed package for every fact above; a test runs it.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { Worker as NodeWorker } from 'worker_threads';

/** The `os` module object itself (a namespace import is a frozen copy whose `cpus` cannot be replaced). */
const os = require('os') as typeof import('os');

const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
/** The unbundled emscripten glue of the threaded SIMD build, relative to the package root. */
export const THREADED_GLUE_FILE = 'wasm-out/tfjs-backend-wasm-threaded-simd.js';
/** The pthread worker's source (exports `wasmWorkerContents`), relative to the package root. */
export const THREADED_WORKER_FILE = 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
/** The Node bundle whose behaviour the shim works around, relative to the package root. */
export const NODE_BUNDLE_FILE = 'dist/tf-backend-wasm.node.js';

function wasmPackageRoot(): string {
  return path.dirname(require.resolve(`${WASM_PACKAGE}/package.json`));
}

/** The threads Node lets this process use: `os.availableParallelism()` (cgroup- and affinity-aware). */
export function availableThreads(): number {
  return Math.max(1, os.availableParallelism());
}

let workerSource: string | null = null;

/**
 * The pthread worker: a `worker_threads.Worker` running the package's worker source from text (`eval: true`),
 * never holding the event loop, and loading the unbundled glue instead of the Blob the Node bundle sends.
 */
class PthreadWorker extends NodeWorker {
  constructor(_blobUrl: unknown) {
    // The source is one line whose only "\n" sits inside a string literal; the package's own blob path re-escapes
    // it the same way.
    workerSource ??= (require(path.join(wasmPackageRoot(), THREADED_WORKER_FILE)) as { wasmWorkerContents: string }).wasmWorkerContents.replace(
      /\n/g,
      '\\n',
    );
    super(workerSource, { eval: true });
    super.unref();
  }

  override ref(): void {
    // The glue refs a worker while it runs a pthread; pool threads never return, so a ref would keep the process
    // alive forever.
  }

  override postMessage(message: unknown, transferList?: readonly unknown[]): void {
    const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
    if (m != null && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
      message = { ...m, urlOrBlob: path.join(wasmPackageRoot(), THREADED_GLUE_FILE) };
    }
    super.postMessage(message, transferList as never);
  }
}

/** What tfjs-backend-wasm's module exports for threads. */
interface WasmThreadsApi {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/**
 * Initialize the `wasm` backend with `threads` XNNPACK threads (the calling thread included) and make it current.
 * `threads` = 1 loads the single-thread SIMD binary as stock tfjs does; more loads the threaded SIMD binary through
 * the shim described at the top of this file.
 *
 * Call once per process, before any other `tf.setBackend('wasm')` (tfjs-backend-wasm initializes its module once).
 *
 * @param requested integer >= 1, or undefined for {@link availableThreads} (or, when the backend already runs in
 *   this process, the count it runs with).
 * @returns the thread count the backend reports after start (`getThreadsCount()`).
 * @throws Error when `requested` is not a positive integer, the backend already runs with another count, or the
 *   module fails to start (the loader's message).
 */
export async function startWasmBackend(requested?: number): Promise<number> {
  if (requested !== undefined && !(Number.isInteger(requested) && requested >= 1)) {
    throw new Error(`threads must be a positive integer, got ${requested}`);
  }
  const api = require(WASM_PACKAGE) as WasmThreadsApi;
  if (tf.engine().registry.wasm != null) {
    // Already initialized in this process: it keeps the count it started with.
    const have = api.getThreadsCount();
    if (requested !== undefined && have !== requested) {
      throw new Error(`the wasm backend already runs with ${have} thread(s) in this process; ${requested} cannot be set after it started`);
    }
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false");
    return have;
  }
  const threads = requested ?? availableThreads();
  const threaded = threads > 1;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threaded);
  api.setThreadsCount(threads);
  if (!threaded) {
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false");
    return api.getThreadsCount();
  }
  const g = globalThis as { Worker?: unknown };
  const hadWorker = Object.prototype.hasOwnProperty.call(g, 'Worker');
  const previousWorker = g.Worker;
  const realCpus = os.cpus;
  // The glue assigns `global.Worker = worker_threads.Worker` when it starts; the setter keeps the shim in place.
  Object.defineProperty(g, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => undefined });
  const cpus = realCpus();
  (os as { cpus: () => unknown[] }).cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
  // Workers are unref'd; the start-up messages they exchange need the loop to stay up until the backend is ready.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  try {
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false (threaded build)");
    await tf.ready();
  } finally {
    clearInterval(keepAlive);
    os.cpus = realCpus;
    delete g.Worker;
    if (hadWorker) g.Worker = previousWorker;
  }
  return api.getThreadsCount();
}

/** One fact about the installed tfjs-backend-wasm that the shim relies on. */
export interface ShimCheck {
  what: string;
  ok: boolean;
}

/**
 * Check the installed tfjs-backend-wasm for every fact the shim relies on (file names, the flag's Node answer, the
 * blob worker, the Blob factory, the glue's `global.Worker` assignment, the core count source, the worker's `load`
 * message and `ref()`), so that an upgrade that changes any of them is caught by a test rather than by a hang.
 *
 * @returns one entry per fact, `ok` false where the package no longer matches.
 */
export function checkThreadedWasmPackage(): ShimCheck[] {
  const root = wasmPackageRoot();
  const read = (rel: string): string => (fs.existsSync(path.join(root, rel)) ? fs.readFileSync(path.join(root, rel), 'utf8') : '');
  const bundle = read(NODE_BUNDLE_FILE);
  const glue = read(THREADED_GLUE_FILE);
  const worker = read(THREADED_WORKER_FILE);
  const checks: Array<[string, boolean]> = [
    ['threaded SIMD binary in dist/', fs.existsSync(path.join(root, 'dist/tfjs-backend-wasm-threaded-simd.wasm'))],
    [`unbundled glue ${THREADED_GLUE_FILE} defines WasmBackendModuleThreadedSimd`, /var WasmBackendModuleThreadedSimd\b/.test(glue)],
    [`${THREADED_WORKER_FILE} exports wasmWorkerContents`, worker.includes('module.exports.wasmWorkerContents')],
    ['worker source imports urlOrBlob when it is a string', worker.includes('typeof e.data.urlOrBlob=="string"')],
    ["flags_wasm answers false under IS_NODE", /if \(ENV\.get\('IS_NODE'\)\) \{\s*return false;/.test(read('dist/flags_wasm.js'))],
    ['the Node bundle hands the pthread pool a blob URL', bundle.includes("path.endsWith('.worker.js')") && bundle.includes('URL.createObjectURL(blob)')],
    ['the Node bundle sends workers its factory as a Blob', bundle.includes('factoryConfig.mainScriptUrlOrBlob = new Blob(')],
    ['the glue sets global Worker to worker_threads.Worker', bundle.includes('commonjsGlobal.Worker = nodeWorkerThreads.Worker')],
    ['the glue spawns pthreads with new Worker(...)', bundle.includes('worker = new Worker(pthreadMainJs)')],
    ['the glue sends "load" with urlOrBlob', bundle.includes('"cmd": "load"') && bundle.includes('"urlOrBlob": Module["mainScriptUrlOrBlob"]')],
    ['the glue counts cores with os.cpus()', /require\$\$\d+\.cpus\(\)\.length/.test(bundle) && /require\$\$\d+ = require\('os'\)/.test(bundle)],
    ['the glue refs a worker while it runs a pthread', bundle.includes('worker.ref()')],
    ['setThreadsCount/getThreadsCount exported', bundle.includes('exports.setThreadsCount') && bundle.includes('exports.getThreadsCount')],
  ];
  return checks.map(([what, ok]) => ({ what, ok }));
}
