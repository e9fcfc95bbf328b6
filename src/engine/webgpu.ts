/**
 * The WebGPU compute backend (@tensorflow/tfjs-backend-webgpu) in browsers and in Node.
 *
 * Browsers have `navigator.gpu`. Node gets it from the optional npm package `webgpu` (Dawn's Node bindings, prebuilt
 * for Linux, macOS and Windows): Vulkan, Metal or D3D12 on a GPU; without one, Mesa's llvmpipe through Dawn's
 * OpenGL ES backend (`EGL_PLATFORM=surfaceless`), which offers only a `compatibility` feature-level adapter.
 * tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when it is first imported, and asks for an
 * adapter without `featureLevel`, so this module registers the backend itself with the adapter it chose.
 *
 * Two fixes to tfjs-backend-webgpu 4.22 are applied when the backend starts:
 * - `PadV2` at rank 5 and 6 generates shader code that Dawn rejects, and the command is dropped silently, leaving
 *   a zero output (which zeroes stride-2 convolution filter gradients built on a rank-6 pad). The override pads one
 *   axis at a time through the backend's own kernel on rank-3 views, which is exact (a pad moves values, it does not
 *   compute them).
 * - `dataSync` does not work there (no synchronous buffer mapping in WebGPU): every path that can run on this
 *   backend reads tensors with `await t.data()`.
 *
 * A software adapter (llvmpipe, lavapipe, SwiftShader, WARP) is slower than wasm: `auto` picks WebGPU only for a
 * hardware adapter ({@link isSoftwareAdapter}).
 */
import * as tf from '@tensorflow/tfjs-core';

/** The part of WebGPU's `GPUAdapterInfo` read here (Dawn fills all four; browsers may leave some empty). */
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
/** The part of `GPUAdapter` used here. */
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor?: object): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  destroy(): void;
  features: { has(name: string): boolean };
}
/** The part of `GPU` (navigator.gpu) used here. */
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string; featureLevel?: string }): Promise<GpuAdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

/** One adapter as `doctor` reports it. */
export interface GpuAdapterReport {
  /** Device name (`info.device`, else `info.description`). */
  name: string;
  vendor: string;
  /** Native API under WebGPU: `vulkan`, `metal`, `d3d12`, `opengles`, or `browser` where the browser does not say. */
  backendType: string;
  /** `core` or `compatibility` (OpenGL ES adapters offer only the latter). */
  featureLevel: 'core' | 'compatibility';
  /** False for software rasterisers (see {@link isSoftwareAdapter}). */
  hardware: boolean;
  description: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i;

/**
 * Whether an adapter is a software rasteriser (CPU emulation of a GPU): the fallback flag when the implementation
 * sets it, else the names of the known ones (Mesa llvmpipe/lavapipe/softpipe, SwiftShader, Microsoft WARP).
 */
export function isSoftwareAdapter(info: GpuAdapterInfoLike, isFallbackAdapter = false): boolean {
  if (isFallbackAdapter || info.isFallbackAdapter) return true;
  return SOFTWARE_ADAPTER.test(`${info.device ?? ''} ${info.description ?? ''} ${info.architecture ?? ''}`);
}

function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node != null;
}

/** Dawn's native backends worth trying on this platform, hardware ones first. */
function dawnBackends(): string[] {
  switch (process.platform) {
    case 'darwin':
      return ['metal'];
    case 'win32':
      return ['d3d12', 'vulkan'];
    default:
      return ['vulkan', 'opengles'];
  }
}

let dawn: DawnModule | null = null;

/**
 * Load the `webgpu` package (Node only) and put its WebGPU globals (GPUBufferUsage, GPUMapMode, ...) on
 * `globalThis`, as tfjs-backend-webgpu expects of a browser.
 * @throws Error naming the package and how to install it when it is missing or does not load.
 */
function loadDawn(): DawnModule {
  if (dawn != null) return dawn;
  try {
    dawn = require('webgpu') as DawnModule;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`WebGPU in Node needs the npm package 'webgpu' (Dawn): npm install webgpu (${why})`);
  }
  // Mesa's EGL picks a display platform from this variable; without a display server only `surfaceless` works.
  process.env.EGL_PLATFORM ??= 'surfaceless';
  Object.assign(globalThis, dawn.globals);
  return dawn;
}

/**
 * Enumerate Dawn's adapters for one native backend (Node): Dawn lists them in the error it gives for an adapter
 * name that does not exist ("Available adapters: * backend: 'vulkan', name: '...'").
 */
async function dawnAdapterNames(d: DawnModule, backend: string): Promise<string[]> {
  const known = adapterNames.get(backend);
  if (known) return known;
  let names: string[] = [];
  try {
    await dawnInstance(d, backend, '\u0001').requestAdapter({ featureLevel: 'compatibility' });
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e);
    names = [...text.matchAll(/\* backend: '[^']*', name: '([^']*)'/g)].map((m) => m[1]);
  }
  adapterNames.set(backend, names);
  return names;
}

/**
 * Dawn instances by backend and adapter name, created once per process and kept: each instance opens the driver
 * (an EGL display, a Vulkan instance), and letting many of them be created and collected lets driver teardown run
 * from the garbage collector at arbitrary points of a long process.
 */
const instances = new Map<string, GpuLike>();
const adapterNames = new Map<string, string[]>();

function dawnInstance(d: DawnModule, backend: string, adapter: string): GpuLike {
  const key = `${backend}\u0000${adapter}`;
  let gpu = instances.get(key);
  if (gpu == null) {
    gpu = d.create([`backend=${backend}`, `adapter=${adapter}`]);
    instances.set(key, gpu);
  }
  return gpu;
}

/** An adapter found, with how to reach it again. */
interface FoundAdapter {
  gpu: GpuLike;
  adapter: GpuAdapterLike;
  report: GpuAdapterReport;
  requestOptions: { powerPreference?: string; featureLevel?: string };
}

async function requestAny(gpu: GpuLike, powerPreference: string): Promise<{ adapter: GpuAdapterLike; featureLevel: 'core' | 'compatibility'; options: object } | null> {
  for (const featureLevel of ['core', 'compatibility'] as const) {
    const options = featureLevel === 'core' ? { powerPreference } : { powerPreference, featureLevel };
    const adapter = await gpu.requestAdapter(options);
    if (adapter != null) return { adapter, featureLevel, options };
  }
  return null;
}

function reportOf(adapter: GpuAdapterLike, backendType: string, featureLevel: 'core' | 'compatibility'): GpuAdapterReport {
  const info = adapter.info ?? {};
  return {
    name: info.device || info.description || '(unnamed)',
    vendor: info.vendor || '(unknown)',
    backendType,
    featureLevel,
    hardware: !isSoftwareAdapter(info, adapter.isFallbackAdapter),
    description: info.description ?? '',
  };
}

/**
 * Every WebGPU adapter this process can reach: in Node, each adapter of each Dawn backend of the platform; in a
 * browser, the high-performance and low-power adapters `navigator.gpu` offers.
 *
 * @returns adapters in preference order (hardware first, then by backend order), possibly empty.
 * @throws Error when Node has no `webgpu` package (the message says how to install it).
 */
async function findAdapters(opts: { hardwareOnly?: boolean } = {}): Promise<FoundAdapter[]> {
  const found: FoundAdapter[] = [];
  if (!isNode()) {
    const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
    if (gpu == null) return found;
    for (const powerPreference of ['high-performance', 'low-power']) {
      const r = await requestAny(gpu, powerPreference);
      if (r == null) continue;
      const report = reportOf(r.adapter, 'browser', r.featureLevel);
      if (!found.some((f) => f.report.name === report.name && f.report.vendor === report.vendor)) {
        found.push({ gpu, adapter: r.adapter, report, requestOptions: r.options });
      }
    }
    return found;
  }
  const d = loadDawn();
  // OpenGL ES is Dawn's last resort (compatibility level only); a GPU also has a Vulkan, Metal or D3D12 adapter.
  for (const backend of dawnBackends().filter((b) => !(opts.hardwareOnly && b === 'opengles'))) {
    for (const name of await dawnAdapterNames(d, backend)) {
      const gpu = dawnInstance(d, backend, name);
      const r = await requestAny(gpu, 'high-performance').catch(() => null);
      if (r == null) continue;
      const report = { ...reportOf(r.adapter, backend, r.featureLevel), name };
      if (opts.hardwareOnly && !report.hardware) continue;
      found.push({ gpu, adapter: r.adapter, report, requestOptions: r.options });
    }
  }
  return found.sort((a, b) => Number(b.report.hardware) - Number(a.report.hardware));
}

/**
 * List the WebGPU adapters this process can use, for `doctor`.
 * @returns the adapters, or the reason none can be listed (e.g. the `webgpu` package is not installed).
 */
export async function listGpuAdapters(): Promise<{ adapters: GpuAdapterReport[]; error?: string }> {
  try {
    return { adapters: (await findAdapters()).map((f) => f.report) };
  } catch (e) {
    return { adapters: [], error: e instanceof Error ? e.message : String(e) };
  }
}

/** Whether a GPU driver exposes a device node: a DRM render node (Mesa, AMD, Intel, NVIDIA open) or NVIDIA's own. */
function linuxHasGpuDevice(): boolean {
  const fs = require('fs') as typeof import('fs');
  if (fs.existsSync('/dev/nvidia0')) return true;
  try {
    return fs.readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

let activeDevice: GpuDeviceLike | null = null;
let activeAdapter: GpuAdapterReport | null = null;

/**
 * Register and start the `webgpu` tfjs backend on the preferred adapter, with the PadV2 fix, and make it current.
 *
 * @param opts.allowSoftware accept a software adapter (llvmpipe etc.) when no hardware one exists. `auto` passes
 *   false: a software rasteriser is slower than wasm.
 * @returns the adapter used.
 * @throws Error when no (acceptable) adapter exists, listing what was found, or when the device cannot be created.
 */
export async function startWebGpuBackend(opts: { allowSoftware: boolean }): Promise<GpuAdapterReport> {
  if (activeDevice != null && activeAdapter != null) {
    if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false");
    return activeAdapter;
  }
  if (!opts.allowSoftware && isNode() && process.platform === 'linux' && !linuxHasGpuDevice()) {
    // Probing Dawn costs start-up time and driver noise on stderr; a GPU driver always makes one of these nodes.
    throw new Error('no GPU device node (/dev/dri/renderD*, /dev/nvidia0) on this machine, so auto does not try a software adapter');
  }
  const adapters = await findAdapters({ hardwareOnly: !opts.allowSoftware });
  const pick = adapters.find((a) => a.report.hardware || opts.allowSoftware);
  if (pick == null) {
    const seen = adapters.map((a) => `${a.report.name} (${a.report.backendType}, software)`).join('; ');
    throw new Error(
      adapters.length === 0
        ? 'no WebGPU adapter: no GPU driver with Vulkan, Metal or D3D12 was found (and no Mesa OpenGL ES for a software adapter)'
        : `only software WebGPU adapters (${seen}); pass --backend webgpu to use one anyway`,
    );
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator == null) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: pick.gpu }, configurable: true, writable: true });
  } else if (g.navigator.gpu == null) {
    Object.defineProperty(g.navigator, 'gpu', { value: pick.gpu, configurable: true });
  }
  const webgpuPkg = require('@tensorflow/tfjs-backend-webgpu') as { WebGPUBackend: new (device: unknown, info?: unknown) => tf.KernelBackend };
  const adapter = pick.adapter;
  const limits = adapter.limits;
  const requiredLimits: Record<string, number> = {};
  for (const k of [
    'maxComputeWorkgroupStorageSize',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupSizeX',
    'maxComputeInvocationsPerWorkgroup',
  ]) {
    requiredLimits[k] = limits[k];
  }
  const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  if (tf.findBackendFactory('webgpu') != null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new webgpuPkg.WebGPUBackend(device, adapter.info), 1);
  registerWebGpuPadFix();
  if (!(await tf.setBackend('webgpu'))) {
    device.destroy();
    throw new Error("tf.setBackend('webgpu') returned false");
  }
  await tf.ready();
  activeDevice = device;
  activeAdapter = pick.report;
  return pick.report;
}

/**
 * Destroy the WebGPU device, if one was created. Dawn keeps a Node process alive while a device exists: the CLI
 * calls this when a command ends, and library users who started WebGPU call it before exiting.
 */
export function releaseWebGpu(): void {
  if (activeDevice == null) return;
  if (tf.findBackend('webgpu') != null) tf.removeBackend('webgpu');
  activeDevice.destroy();
  activeDevice = null;
  activeAdapter = null;
}

let padFixRegistered = false;

/**
 * Replace the webgpu backend's `PadV2` for rank > 4 by one rank-3 pad per padded axis: the tensor is viewed as
 * [prod(dims before), dim, prod(dims after)] and padded on the middle axis with the backend's own kernel.
 * Ranks <= 4 go to the original kernel unchanged.
 */
export function registerWebGpuPadFix(): void {
  if (padFixRegistered) return;
  const original = tf.getKernel('PadV2', 'webgpu');
  if (original == null) throw new Error('tfjs-backend-webgpu registered no PadV2 kernel');
  const originalFunc = original.kernelFunc;
  tf.unregisterKernel('PadV2', 'webgpu');
  tf.registerKernel({
    kernelName: 'PadV2',
    backendName: 'webgpu',
    kernelFunc: (args) => {
      const { x } = args.inputs as { x: tf.TensorInfo };
      const { paddings, constantValue } = args.attrs as unknown as { paddings: Array<[number, number]>; constantValue: number };
      if (x.shape.length <= 4) return originalFunc(args);
      const backend = args.backend as tf.KernelBackend & { disposeData(id: object): void };
      const reshape = tf.getKernel('Reshape', 'webgpu')!.kernelFunc;
      let cur: tf.TensorInfo = x;
      let shape = [...x.shape];
      const owned: tf.TensorInfo[] = [];
      for (let axis = 0; axis < shape.length; axis++) {
        const [before, after] = paddings[axis];
        if (before === 0 && after === 0) continue;
        const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
        const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
        const view = reshape({ inputs: { x: cur }, attrs: { shape: [outer, shape[axis], inner] }, backend }) as tf.TensorInfo;
        const padded = originalFunc({
          inputs: { x: view },
          attrs: { paddings: [[0, 0], [before, after], [0, 0]], constantValue } as never,
          backend,
        }) as tf.TensorInfo;
        shape = shape.map((d, i) => (i === axis ? d + before + after : d));
        owned.push(view, padded);
        cur = padded;
      }
      const out = reshape({ inputs: { x: cur }, attrs: { shape }, backend }) as tf.TensorInfo;
      // Reshape shares its input's data and counts a reference: releasing every intermediate once leaves the last
      // pad's data held by `out` alone, and x's as before.
      for (const t of owned) backend.disposeData(t.dataId);
      return out;
    },
  });
  padFixRegistered = true;
}
