/**
 * Inference through ONNX Runtime (`onnxruntime-node`, an optional dependency): a session on an `.onnx` file, on
 * ONNX bytes, or on a training checkpoint exported on the fly (`src/export/onnx`).
 *
 * Sessions run on the CPU execution provider with `intraOpNumThreads` threads (default 1: on this class of
 * machine two ORT threads never beat one) and with thread-pool spinning off (`allow_spinning: '0'`), so that a
 * session idle between calls does not take cores from the work beside it.
 */
import type * as Ort from 'onnxruntime-node';
import { exportCheckpointModel, loadCheckpointModel } from '../export/onnx/checkpoint';
import { ONNX_INPUT_NAME } from '../export/onnx/export';

/** Options of `OnnxRuntimeModel.create`. */
export interface OnnxRuntimeOptions {
  /** Intra-op threads. Default 1. */
  threads?: number;
  /** Classification checkpoints: run the backbone as a feature extractor instead of the classifier. */
  features?: boolean;
}

/** One output of a run: row-major float32 values and dims (NCHW for 4-D outputs, as the graph declares). */
export interface OnnxOutput {
  data: Float32Array;
  dims: number[];
}

const importOnnxRuntime = async (): Promise<typeof Ort> => (await import('onnxruntime-node')) as typeof Ort;
let onnxRuntimeImporter: () => Promise<typeof Ort> = importOnnxRuntime;

/**
 * Replace how `onnxruntime-node` is imported (a test simulates its absence with an importer that throws as a
 * missing module does); `undefined` restores the real import.
 */
export function setOnnxRuntimeImporter(importer: (() => Promise<typeof Ort>) | undefined): void {
  onnxRuntimeImporter = importer ?? importOnnxRuntime;
}

/**
 * Load `onnxruntime-node`.
 * @throws Error saying how to install it when the package is absent.
 */
export async function loadOnnxRuntime(): Promise<typeof Ort> {
  try {
    return await onnxRuntimeImporter();
  } catch (e) {
    throw new Error(
      `onnxruntime-node is not installed (${(e as Error).message.split('\n')[0]}); install it with ` +
        '`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node` (the variable skips its CUDA download)',
    );
  }
}

/** Whether `onnxruntime-node` can be loaded here. */
export async function hasOnnxRuntime(): Promise<boolean> {
  try {
    await loadOnnxRuntime();
    return true;
  } catch {
    return false;
  }
}

/**
 * Session options: CPU provider, `threads` intra-op threads, one inter-op thread, no spinning in either pool.
 * Reference: onnxruntime `onnxruntime_session_options_config_keys.h` (`session.intra_op.allow_spinning`).
 */
export function sessionOptions(threads = 1): Ort.InferenceSession.SessionOptions {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`ONNX Runtime threads must be a positive integer, got ${threads}`);
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** A model running in ONNX Runtime. Call `release()` when done. */
export class OnnxRuntimeModel {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    /** Class names from the model metadata (`resvision.classes`), when the model carries them. */
    readonly classes: string[] | undefined,
  ) {}

  /**
   * Open a session.
   * @param source an `.onnx` file, ONNX bytes, or a training checkpoint (any other path), exported on the fly.
   * @throws Error when onnxruntime-node is absent, the checkpoint cannot be rebuilt, or ORT rejects the model
   *   (the message names the source).
   */
  static async create(source: string | Uint8Array, opts: OnnxRuntimeOptions = {}): Promise<OnnxRuntimeModel> {
    const ort = await loadOnnxRuntime();
    let bytes: Uint8Array | string = source;
    let classes: string[] | undefined;
    if (typeof source === 'string' && !source.toLowerCase().endsWith('.onnx')) {
      const m = await loadCheckpointModel(source, { features: opts.features });
      try {
        bytes = exportCheckpointModel(m).bytes;
        classes = m.classes;
      } finally {
        m.dispose();
      }
    }
    let session: Ort.InferenceSession;
    try {
      session = typeof bytes === 'string' ? await ort.InferenceSession.create(bytes, sessionOptions(opts.threads)) : await ort.InferenceSession.create(bytes, sessionOptions(opts.threads));
    } catch (e) {
      const what = typeof source === 'string' ? source : 'ONNX bytes';
      throw new Error(`${what}: ONNX Runtime cannot load the model: ${(e as Error).message.split('\n')[0]}`);
    }
    return new OnnxRuntimeModel(ort, session, classes);
  }

  /** Graph input names. */
  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  /** Graph output names, in declaration order. */
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /**
   * Run the model on a batch.
   * @param images [N, 3, H, W] float32 normalized RGB, NCHW, row-major (`nhwcToNchw` converts a tfjs batch).
   * @param shape [N, 3, H, W].
   * @returns every graph output by name (new arrays, owned by the caller).
   * @throws Error when `images` does not hold N*3*H*W values.
   */
  async run(images: Float32Array, shape: readonly [number, number, number, number]): Promise<Record<string, OnnxOutput>> {
    const n = shape.reduce((a, b) => a * b, 1);
    if (shape[1] !== 3 || images.length !== n) throw new Error(`OnnxRuntimeModel.run takes [N, 3, H, W] float32 images, got ${images.length} values for [${shape}]`);
    const input = new this.ort.Tensor('float32', images, [...shape]);
    const out = await this.session.run({ [ONNX_INPUT_NAME]: input });
    const result: Record<string, OnnxOutput> = {};
    for (const [k, v] of Object.entries(out)) {
      result[k] = { data: v.data as Float32Array, dims: [...v.dims] };
      v.dispose();
    }
    input.dispose();
    return result;
  }

  /** Release the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Reorder a batch from NHWC (tfjs) to NCHW (ONNX).
 * @param x [N, H, W, C] row-major. @returns a new [N, C, H, W] row-major array.
 */
export function nhwcToNchw(x: Float32Array, shape: readonly [number, number, number, number]): Float32Array {
  const [n, h, w, c] = shape;
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let i = 0; i < w; i++) {
        const src = ((b * h + y) * w + i) * c;
        for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + i] = x[src + k];
      }
    }
  }
  return out;
}

/**
 * Reorder a batch from NCHW (ONNX outputs) to NHWC (tfjs).
 * @param x [N, C, H, W] row-major. @returns a new [N, H, W, C] row-major array.
 */
export function nchwToNhwc(x: Float32Array, shape: readonly [number, number, number, number]): Float32Array {
  const [n, c, h, w] = shape;
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let y = 0; y < h; y++) {
        const src = ((b * c + k) * h + y) * w;
        for (let i = 0; i < w; i++) out[((b * h + y) * w + i) * c + k] = x[src + i];
      }
    }
  }
  return out;
}
