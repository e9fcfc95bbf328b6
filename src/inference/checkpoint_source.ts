/**
 * Training checkpoints for the inference API, from wherever a program gets bytes: the safetensors file
 * `resvision train` writes (model state under torchvision names, the run's resolved config with its class names in
 * `__metadata__.meta`) as an `ArrayBuffer` / `Uint8Array`, a URL, or a `tf.io.IOHandler`. The model is rebuilt from
 * the stored config through the architecture table (`src/tasks/models.ts`) and its weights copied in by
 * `loadModelWeights`.
 *
 * Portable: no Node module (the Node entry reads paths into bytes first, `./node.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Config } from '../config/types';
import type { Module } from '../nn/module';
import { fetchBytes, isIOHandler, loadModelWeights, RESVISION_CHECKPOINT_FORMAT, type WeightsSource } from '../weights/model_weights';
import { SafetensorsBuffer } from '../weights/safetensors_bytes';

/**
 * Where a checkpoint comes from: its bytes, a URL (absolute, or relative to the page) read with `fetch`, or a
 * `tf.io.IOHandler` (`tf.io.browserFiles`, `tf.io.http`, `tf.io.fromMemory`) whose weights carry the model's state
 * names (as `saveModelWeights` writes them) and whose `userDefinedMetadata.config` holds the run config, unless
 * the loader's `config` option gives it.
 */
export type CheckpointSource = ArrayBuffer | Uint8Array | string | tf.io.IOHandler;

/** Options of the loaders (`loadDetector`, `loadSegmenter`, `loadClassifier`). */
export interface CheckpointLoadOptions {
  /**
   * The run config (the training config plus `classes`, and `categoryIds` for detection) when the source does not
   * store one (a `tf.io.IOHandler` without `userDefinedMetadata.config`). A checkpoint's own config wins.
   */
  config?: Config & { classes: string[] };
}

/** A checkpoint whose metadata has been read: the name errors give it, the stored run config, its weights. */
export interface OpenedCheckpoint {
  /** The file name, URL, `buffer` or `tf.io handler`: the subject of every error message. */
  name: string;
  /** The run config stored with the weights (not validated yet: see {@link runConfigOf}). */
  config: unknown;
  /** The weights, for `loadModelWeights`. */
  weights: WeightsSource;
}

/**
 * Read a checkpoint's metadata from bytes.
 * @param name names the bytes in errors (a file name, a URL).
 * @throws Error naming `name` when the bytes are not safetensors, not a resvision checkpoint, or its metadata is not
 *   JSON.
 */
export function openCheckpointBytes(bytes: ArrayBuffer | Uint8Array, name: string): OpenedCheckpoint {
  let st: SafetensorsBuffer;
  try {
    st = SafetensorsBuffer.parse(bytes, name);
  } catch (e) {
    throw new Error(`${name}: not a resvision checkpoint (${(e as Error).message.replace(`${name}: `, '')})`);
  }
  if (st.metadata.format !== RESVISION_CHECKPOINT_FORMAT || st.metadata.layout !== 'hwio') {
    throw new Error(`${name}: not a resvision checkpoint (__metadata__ format '${st.metadata.format}', layout '${st.metadata.layout}'); ` +
      'the inference API loads what resvision train writes');
  }
  let meta: { config?: unknown };
  try {
    meta = JSON.parse(st.metadata.meta ?? 'null') ?? {};
  } catch (e) {
    throw new Error(`${name}: checkpoint meta is not valid JSON: ${(e as Error).message}`);
  }
  return { name, config: meta.config, weights: bytes };
}

/**
 * Read a checkpoint's metadata from any {@link CheckpointSource} (a URL is fetched once).
 * @throws Error naming the source when fetching fails, the bytes are not a resvision checkpoint, or a
 *   `tf.io.IOHandler` cannot load.
 */
export async function openCheckpointSource(source: CheckpointSource, opts: CheckpointLoadOptions = {}): Promise<OpenedCheckpoint> {
  if (isIOHandler(source)) {
    if (!source.load) throw new Error('tf.io handler: it cannot load (no load method)');
    const artifacts = await source.load();
    const stored = (artifacts.userDefinedMetadata as { config?: unknown } | undefined)?.config;
    return { name: 'tf.io handler', config: stored ?? opts.config, weights: tf.io.fromMemory(artifacts) };
  }
  if (typeof source === 'string') return openCheckpointBytes(await fetchBytes(source), source);
  if (source instanceof ArrayBuffer || source instanceof Uint8Array) return openCheckpointBytes(source, 'buffer');
  throw new Error(`checkpoint source: expected bytes (ArrayBuffer, Uint8Array), a URL or a tf.io.IOHandler, got ${source === null ? 'null' : typeof source}`);
}

/**
 * The stored run config, checked to be one of `task` with what inference needs.
 * @param fields the array fields the task's run config must hold (`classes`, and `categoryIds` for detection).
 * @throws Error naming the checkpoint when it stores no config, the config of another task, or lacks a field.
 */
export function runConfigOf<R extends Config>(ckpt: OpenedCheckpoint, task: R['task'], fields: readonly string[]): R {
  const c = ckpt.config as Partial<Record<string, unknown>> | undefined;
  if (!c || typeof c !== 'object') {
    throw new Error(`${ckpt.name}: no run config stored with the weights (a checkpoint of resvision train has one; for a tf.io handler pass the config option)`);
  }
  if (c.task !== task) throw new Error(`${ckpt.name}: a ${String(c.task)} checkpoint, not a ${task} one`);
  for (const f of fields) {
    if (!Array.isArray(c[f])) throw new Error(`${ckpt.name}: the stored ${task} config has no '${f}' list`);
  }
  return c as unknown as R;
}

/**
 * Copy the checkpoint's weights into a freshly built model; on failure the model is disposed.
 * @param optional names of checkpoint tensors the model may lack (the auxiliary head inference does not build).
 * @returns the model.
 * @throws Error naming the checkpoint when tensors are missing, unexpected or of another shape or dtype.
 */
export async function restoreInto<M extends Module>(model: M, ckpt: OpenedCheckpoint, optional?: (name: string) => boolean): Promise<M> {
  try {
    if (!optional) await loadModelWeights(model, ckpt.weights, { name: ckpt.name });
    else {
      // Checked before anything is kept: a model with missing tensors is disposed below, never returned.
      const r = await loadModelWeights(model, ckpt.weights, { strict: false, name: ckpt.name });
      const bad = [...r.missing.map((n) => `missing ${n}`), ...r.unexpected.filter((n) => !optional(n)).map((n) => `unexpected ${n}`)];
      if (bad.length > 0) throw new Error(`${ckpt.name}: weights do not fit the model: ${bad.slice(0, 8).join(', ')}${bad.length > 8 ? `, ... (${bad.length} in all)` : ''}`);
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
