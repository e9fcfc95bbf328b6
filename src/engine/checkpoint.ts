/**
 * Training checkpoints: one safetensors file holding the model state (every parameter and buffer under its
 * torchvision name, in our layouts: HWIO kernels, `[in, out]` Linear weights), the optimizer slots under
 * `optimizer.<slot name>` (e.g. `optimizer.layer1.0.conv1.weight.momentum_buffer`) and the training metadata as
 * JSON in the header's `__metadata__`. Values are stored bit for bit (float32 as F32, int32 as I32, bool as BOOL),
 * so save → load → restore reproduces every tensor exactly, which exact resume needs.
 *
 * `__metadata__` keys: `format` = `resvision-checkpoint`, `version` = `1`, `layout` = `hwio`, `architecture`
 * (when known), `meta` = the JSON of the caller's metadata (config, iteration, epoch, schedule, seed, rng state).
 *
 * Torchvision-layout files for torch users are written by `exportTorchvisionWeights` in `src/weights`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module } from '../nn/module';
import { WeightDtype, bytesOf } from '../weights/dtypes';
import { hostToTensor } from '../weights/model_weights';
import { SafetensorsEntry, SafetensorsFile, writeSafetensors } from '../weights/safetensors';

/** Value of `__metadata__.format` in a checkpoint. */
export const CHECKPOINT_FORMAT = 'resvision-checkpoint';
/** Prefix of optimizer slots among the checkpoint's tensors. */
export const OPTIMIZER_PREFIX = 'optimizer.';

/** What `saveCheckpoint` writes. */
export interface CheckpointContents<M extends object = Record<string, unknown>> {
  /** Every state entry (parameters and buffers) is saved; read only. */
  model: Module;
  /** Optimizer slots by name (e.g. `<param>.momentum_buffer`); read only, still owned by the caller. */
  optimizerState?: Record<string, tf.Tensor>;
  /** Training metadata, JSON-serializable (config, iteration, epoch, schedule state, seed, rng state). */
  meta: M;
  /** Architecture name (e.g. `resnet50`), reported when the checkpoint is restored into another one. */
  architecture?: string;
}

function storedDtype(t: tf.Tensor, name: string): WeightDtype {
  switch (t.dtype) {
    case 'float32':
      return 'F32';
    case 'int32':
      return 'I32';
    case 'bool':
      return 'BOOL';
    default:
      throw new Error(`checkpoint tensor '${name}' has dtype ${t.dtype}; only float32, int32 and bool are stored`);
  }
}

async function tensorBytes(t: tf.Tensor): Promise<Uint8Array> {
  const v = await t.data();
  if (v instanceof Float32Array || v instanceof Int32Array) return bytesOf(v).slice();
  if (v instanceof Uint8Array) return v.slice();
  throw new Error(`cannot serialize a ${t.dtype} tensor`);
}

/**
 * Write a checkpoint to `file`: a temporary file in the same directory, flushed, then renamed, so a half-written
 * checkpoint never replaces a good one.
 *
 * @throws Error when a model state name starts with `optimizer.`, a tensor dtype is not float32/int32/bool, or
 *   `meta` is not JSON-serializable.
 */
export async function saveCheckpoint<M extends object>(file: string, contents: CheckpointContents<M>): Promise<void> {
  const entries: SafetensorsEntry[] = [];
  for (const e of contents.model.stateEntries()) {
    if (e.name.startsWith(OPTIMIZER_PREFIX)) throw new Error(`model state '${e.name}' collides with the optimizer prefix`);
    const v = e.variable;
    entries.push({ name: e.name, dtype: storedDtype(v, e.name), shape: [...v.shape], data: () => tensorBytes(v) });
  }
  for (const [k, t] of Object.entries(contents.optimizerState ?? {})) {
    entries.push({ name: OPTIMIZER_PREFIX + k, dtype: storedDtype(t, k), shape: [...t.shape], data: () => tensorBytes(t) });
  }
  const meta = JSON.stringify(contents.meta);
  if (meta === undefined) throw new Error('checkpoint meta is not JSON-serializable');
  const architecture = contents.architecture ?? (contents.meta as { architecture?: unknown }).architecture;
  const header: Record<string, string> = { format: CHECKPOINT_FORMAT, version: '1', layout: 'hwio', meta };
  if (typeof architecture === 'string') header.architecture = architecture;
  await writeSafetensors(file, entries, header);
}

/** An open checkpoint: metadata parsed, tensors read on demand. Call `close()` when done. */
export class Checkpoint<M extends object = Record<string, unknown>> {
  private constructor(
    private readonly st: SafetensorsFile,
    /** The metadata given to `saveCheckpoint`. */
    readonly meta: M,
    /** Architecture recorded at save time, if any. */
    readonly architecture: string | undefined,
  ) {}

  /**
   * Open a checkpoint and parse its metadata; no tensor data is read.
   * @throws Error naming the file when it is not a resvision checkpoint (e.g. torchvision weights: use
   *   `loadTorchvisionWeights`) or its metadata is not valid JSON, or on any safetensors format error.
   */
  static async open<M extends object = Record<string, unknown>>(file: string): Promise<Checkpoint<M>> {
    const st = await SafetensorsFile.open(file);
    try {
      if (st.metadata.format !== CHECKPOINT_FORMAT) {
        throw new Error(`${file}: not a resvision checkpoint (no __metadata__.format '${CHECKPOINT_FORMAT}'); for torchvision weights use loadTorchvisionWeights`);
      }
      if (st.metadata.version !== '1' || st.metadata.layout !== 'hwio') {
        throw new Error(`${file}: checkpoint version '${st.metadata.version}' / layout '${st.metadata.layout}' is not supported (expected 1 / hwio)`);
      }
      let meta: M;
      try {
        meta = JSON.parse(st.metadata.meta ?? 'null') as M;
      } catch (e) {
        throw new Error(`${file}: checkpoint meta is not valid JSON: ${(e as Error).message}`);
      }
      return new Checkpoint<M>(st, meta, st.metadata.architecture);
    } catch (e) {
      await st.close();
      throw e;
    }
  }

  get file(): string {
    return this.st.file;
  }

  /** Names of the model state tensors (torchvision names). */
  modelKeys(): string[] {
    return this.st.keys().filter((k) => !k.startsWith(OPTIMIZER_PREFIX));
  }

  /** Names of the optimizer slots, without the `optimizer.` prefix. */
  optimizerKeys(): string[] {
    return this.st.keys().filter((k) => k.startsWith(OPTIMIZER_PREFIX)).map((k) => k.slice(OPTIMIZER_PREFIX.length));
  }

  /** Shape and stored dtype of a model tensor (or `optimizer.`-prefixed slot). */
  info(key: string): { dtype: WeightDtype; shape: number[] } {
    const i = this.st.info(key);
    return { dtype: i.dtype, shape: [...i.shape] };
  }

  /**
   * Read one tensor by its stored name (model name, or `optimizer.<slot>`).
   * @returns a new tensor (float32, int32 or bool) the caller disposes.
   */
  async readTensor(key: string): Promise<tf.Tensor> {
    return hostToTensor(await this.st.read(key), `checkpoint tensor '${key}'`);
  }

  /** Every optimizer slot as new tensors keyed without the prefix; the caller disposes them. */
  async readOptimizerState(): Promise<Record<string, tf.Tensor>> {
    const out: Record<string, tf.Tensor> = {};
    try {
      for (const k of this.optimizerKeys()) out[k] = await this.readTensor(OPTIMIZER_PREFIX + k);
    } catch (e) {
      for (const t of Object.values(out)) t.dispose();
      throw e;
    }
    return out;
  }

  /** Release the file handle. */
  close(): Promise<void> {
    return this.st.close();
  }
}

/**
 * Open a checkpoint written by `saveCheckpoint` (lazily: tensors are read when asked for).
 * @throws see `Checkpoint.open`.
 */
export function loadCheckpoint<M extends object = Record<string, unknown>>(file: string): Promise<Checkpoint<M>> {
  return Checkpoint.open<M>(file);
}

/** What `restoreModel` did. */
export interface RestoreReport {
  loaded: string[];
  /** Model state the checkpoint lacks (left unchanged). */
  missing: string[];
  /** Checkpoint model tensors the model lacks. */
  unexpected: string[];
  shapeMismatched: { name: string; checkpointShape: number[]; modelShape: number[] }[];
}

/**
 * Copy the checkpoint's model state into `model`, bit for bit.
 *
 * @param model its variables are assigned in place.
 * @param opts.strict (default true) require the exact same state names and shapes; checked before anything is
 *   written, so a failed restore leaves the model untouched.
 * @throws Error naming the file and the architecture recorded in the checkpoint, listing missing, unexpected and
 *   shape-mismatched tensors, when `strict` and they differ; or when a stored dtype differs from the variable's.
 */
export async function restoreModel(model: Module, ckpt: Checkpoint<object>, opts: { strict?: boolean } = {}): Promise<RestoreReport> {
  const strict = opts.strict ?? true;
  const entries = model.stateEntries();
  const stored = new Set(ckpt.modelKeys());
  const report: RestoreReport = { loaded: [], missing: [], unexpected: [], shapeMismatched: [] };
  const plan: typeof entries = [];
  for (const e of entries) {
    if (!stored.has(e.name)) {
      report.missing.push(e.name);
      continue;
    }
    stored.delete(e.name);
    const shape = ckpt.info(e.name).shape;
    if (!tf.util.arraysEqual(shape, e.variable.shape)) {
      report.shapeMismatched.push({ name: e.name, checkpointShape: shape, modelShape: [...e.variable.shape] });
    } else plan.push(e);
  }
  report.unexpected = [...stored];
  if (strict && (report.missing.length || report.unexpected.length || report.shapeMismatched.length)) {
    const few = (xs: string[]): string => (xs.length > 8 ? `${xs.slice(0, 8).join(', ')}, ... (${xs.length} in all)` : xs.join(', '));
    const parts: string[] = [];
    if (report.missing.length) parts.push(`missing: ${few(report.missing)}`);
    if (report.unexpected.length) parts.push(`unexpected: ${few(report.unexpected)}`);
    if (report.shapeMismatched.length) {
      parts.push(`shape mismatch: ${few(report.shapeMismatched.map((m) => `${m.name} checkpoint [${m.checkpointShape}] vs model [${m.modelShape}]`))}`);
    }
    const arch = ckpt.architecture ? `architecture '${ckpt.architecture}'` : 'an unrecorded architecture';
    throw new Error(`${ckpt.file}: checkpoint of ${arch} does not fit this model: ${parts.join('; ')}`);
  }
  for (const e of plan) {
    const t = await ckpt.readTensor(e.name);
    try {
      if (t.dtype !== e.variable.dtype) throw new Error(`${ckpt.file}: '${e.name}' is ${t.dtype}, the model's variable is ${e.variable.dtype}`);
      e.variable.assign(t);
    } finally {
      t.dispose();
    }
    report.loaded.push(e.name);
  }
  return report;
}
