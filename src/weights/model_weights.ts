/**
 * Model weights from anywhere a browser can get bytes: a resvision checkpoint (safetensors, our names and
 * layouts) as an `ArrayBuffer` / `Uint8Array`, a URL read with `fetch`, or a `tf.io.IOHandler` (e.g.
 * `tf.io.browserFiles`, `tf.io.fromMemory`, `tf.io.http`) whose weight specs are named by our state names. No
 * file-system module: the Node path loader is `restoreModel` in `src/engine/checkpoint.ts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module';
import { HostTensor, decodeFloat32, decodeInt32 } from './dtypes';
import { SafetensorsBuffer } from './safetensors_bytes';

/** `__metadata__.format` of a resvision checkpoint (as written by `saveCheckpoint`). */
export const RESVISION_CHECKPOINT_FORMAT = 'resvision-checkpoint';

/** Where weights come from. A string is a URL (absolute, or relative to the page). */
export type WeightsSource = ArrayBuffer | Uint8Array | string | tf.io.IOHandler;

/** What `loadModelWeights` did. */
export interface ModelWeightsReport {
  loaded: string[];
  /** Model state the source lacks (left unchanged). */
  missing: string[];
  /** Source tensors the model lacks (optimizer slots of a checkpoint are not counted). */
  unexpected: string[];
}

/** Whether a weights or checkpoint source is a `tf.io.IOHandler` (an object with a `load` method, not bytes). */
export function isIOHandler(s: unknown): s is tf.io.IOHandler {
  return typeof s === 'object' && s !== null && !(s instanceof ArrayBuffer) && !(s instanceof Uint8Array) && typeof (s as tf.io.IOHandler).load === 'function';
}

/**
 * The body of `url` (absolute, or relative to the page) read with `fetch`.
 * @throws Error `${url}: fetch failed: ...` or `${url}: HTTP <status> <text>`.
 */
export async function fetchBytes(url: string): Promise<ArrayBuffer> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url}: fetch failed: ${(e as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  return res.arrayBuffer();
}

/**
 * A tensor of a checkpoint or model-weights file as a new tfjs tensor (caller disposes): F32 → float32, I32 → int32,
 * BOOL → bool, in the file's row-major shape.
 * @param where names the file and tensor for the error message.
 * @throws Error `${where}: dtype ... is not one a checkpoint stores` for any other dtype.
 */
export function hostToTensor(h: HostTensor, where: string): tf.Tensor {
  switch (h.dtype) {
    case 'F32':
      return tf.tensor(decodeFloat32(h), h.shape, 'float32');
    case 'I32':
      return tf.tensor(decodeInt32(h), h.shape, 'int32');
    case 'BOOL':
      return tf.tensor(decodeInt32(h), h.shape, 'bool');
    default:
      throw new Error(`${where}: dtype ${h.dtype} is not one a checkpoint stores`);
  }
}

/** Named tensors of the source (new tensors; the caller disposes them). */
async function readNamedTensors(source: WeightsSource, name?: string): Promise<{ where: string; tensors: Map<string, tf.Tensor> }> {
  if (isIOHandler(source)) {
    const artifacts = await source.load!();
    if (!artifacts.weightSpecs || !artifacts.weightData) throw new Error('tf.io handler: the artifacts have no weightSpecs / weightData');
    const decoded = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
    return { where: name ?? 'tf.io handler', tensors: new Map(Object.entries(decoded)) };
  }
  let bytes: ArrayBuffer | Uint8Array;
  let where = name ?? 'buffer';
  if (typeof source === 'string') {
    where = name ?? source;
    bytes = await fetchBytes(source);
  } else bytes = source;
  const st = SafetensorsBuffer.parse(bytes, where);
  if (st.metadata.format !== RESVISION_CHECKPOINT_FORMAT || st.metadata.layout !== 'hwio') {
    throw new Error(`${where}: not a resvision checkpoint (__metadata__ format '${st.metadata.format}', layout '${st.metadata.layout}')`);
  }
  const tensors = new Map<string, tf.Tensor>();
  for (const k of st.keys()) if (!k.startsWith('optimizer.')) tensors.set(k, hostToTensor(st.read(k), `${where}: '${k}'`));
  return { where, tensors };
}

/**
 * Copy weights into `model` by state name, checking every shape and dtype before anything is written.
 *
 * @param source a resvision checkpoint's bytes, a URL of one, or a `tf.io.IOHandler` whose weights are named by
 *   the model's state names (`layer1.0.conv1.weight`, HWIO kernels).
 * @param opts.strict (default true) require exactly the model's state names.
 * @param opts.name what error messages call the source (a file name); default the URL, or `buffer`.
 * @returns the loaded, missing and unexpected names.
 * @throws Error naming the source when fetching fails, the bytes are not a resvision checkpoint, a shape or dtype
 *   differs, or (strict) names are missing or unexpected; the model is then untouched.
 */
export async function loadModelWeights(model: Module, source: WeightsSource, opts: { strict?: boolean; name?: string } = {}): Promise<ModelWeightsReport> {
  const { where, tensors } = await readNamedTensors(source, opts.name);
  try {
    const entries = model.stateEntries();
    const report: ModelWeightsReport = { loaded: [], missing: [], unexpected: [] };
    const names = new Set(entries.map((e) => e.name));
    report.unexpected = [...tensors.keys()].filter((k) => !names.has(k));
    const bad: string[] = [];
    for (const e of entries) {
      const t = tensors.get(e.name);
      if (!t) report.missing.push(e.name);
      else if (!tf.util.arraysEqual(t.shape, e.variable.shape) || t.dtype !== e.variable.dtype) {
        bad.push(`${e.name} ${t.dtype} [${t.shape}] vs model ${e.variable.dtype} [${e.variable.shape}]`);
      }
    }
    const strict = opts.strict ?? true;
    const few = (xs: string[]): string => (xs.length > 8 ? `${xs.slice(0, 8).join(', ')}, ... (${xs.length} in all)` : xs.join(', '));
    if (bad.length) throw new Error(`${where}: weights do not fit the model: ${few(bad)}`);
    if (strict && (report.missing.length || report.unexpected.length)) {
      const parts = [];
      if (report.missing.length) parts.push(`missing: ${few(report.missing)}`);
      if (report.unexpected.length) parts.push(`unexpected: ${few(report.unexpected)}`);
      throw new Error(`${where}: weights do not fit the model: ${parts.join('; ')}`);
    }
    for (const e of entries) {
      const t = tensors.get(e.name);
      if (!t) continue;
      e.variable.assign(t);
      report.loaded.push(e.name);
    }
    return report;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Save `model`'s state through a `tf.io.IOHandler` (e.g. `tf.io.browserDownloads`, `tf.io.withSaveHandler`):
 * weight specs named by state names, float32 / int32 / bool values, our layouts. `loadModelWeights` reads it back.
 * @throws Error when the handler cannot save.
 */
export async function saveModelWeights(model: Module, handler: tf.io.IOHandler): Promise<tf.io.SaveResult> {
  if (!handler.save) throw new Error('tf.io handler: it cannot save (no save method)');
  const named: tf.NamedTensorMap = {};
  for (const e of model.stateEntries()) named[e.name] = e.variable;
  const { data, specs } = await tf.io.encodeWeights(named);
  return handler.save({ weightSpecs: specs, weightData: data, format: 'resvision-weights', generatedBy: 'resvision' });
}
