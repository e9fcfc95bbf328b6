/**
 * Reader of PyTorch `torch.save` files in the zip format (the default since torch 1.6): a zip archive
 * `<name>/data.pkl` (the pickled object, interpreted by our restricted unpickler), `<name>/data/<key>` (one
 * entry per storage, raw little-endian bytes, usually stored uncompressed), `<name>/version` and, in newer
 * versions, `<name>/byteorder`.
 *
 * The archive's central directory is read on open; storage bytes are read from disk only when a tensor is asked
 * for. The legacy pre-1.6 format (a bare pickle stream) and TorchScript archives are refused with a message.
 *
 * Reference: torch `torch/serialization.py` (`_save`, `_load`, `persistent_load`), `torch/_utils.py`
 * (`_rebuild_tensor_v2`).
 */
import * as yauzl from 'yauzl';
import { DTYPE_BYTES, HostTensor, numElements } from './dtypes';
import { TorchStorageRef, TorchTensorRef, storageClassDtype, unpickle } from './torch_pickle';

function isTensorRef(v: unknown): v is TorchTensorRef {
  return typeof v === 'object' && v !== null && (v as { kind?: string }).kind === 'tensor';
}

/** Whether every value of a dict is a tensor (a state dict). */
function isStateDict(v: unknown): v is Map<string, TorchTensorRef> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const [k, t] of v) if (typeof k !== 'string' || !isTensorRef(t)) return false;
  return true;
}

/** Keys under which training checkpoints nest the model's state dict, tried in this order. */
export const NESTED_STATE_DICT_KEYS = ['state_dict', 'model', 'model_state_dict', 'state_dict_ema'] as const;

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Uint8Array> {
  const stream = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  const buf = Buffer.concat(chunks);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** An open `torch.save` archive. Call `close()` when done. */
export class TorchArchive {
  private constructor(
    readonly file: string,
    private readonly zip: yauzl.ZipFile,
    private readonly entries: Map<string, yauzl.Entry>,
    private readonly prefix: string,
    /** The unpickled object, tensors as `TorchTensorRef` descriptions. */
    readonly root: unknown,
  ) {}

  /**
   * Open a `torch.save` zip archive and unpickle its `data.pkl` (no tensor data is read).
   * @throws Error naming the file for the legacy format, a TorchScript archive, a big-endian archive, a missing
   *   `data.pkl`, or a pickle that needs a forbidden global (the message names it).
   */
  static async open(file: string): Promise<TorchArchive> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
    } catch (e) {
      throw new Error(`${file}: not a torch.save zip archive (${(e as Error).message}); files written by torch < 1.6 or with ` +
        '_use_new_zipfile_serialization=False must be re-saved with a recent torch or converted to safetensors');
    }
    try {
      const entries = new Map<string, yauzl.Entry>();
      for await (const e of zip.eachEntry()) entries.set(e.fileName, e);
      const pkl = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
      if (pkl.length !== 1) throw new Error(`${file}: expected one '<name>/data.pkl' entry in the archive, found ${pkl.length}`);
      const prefix = pkl[0].slice(0, -'data.pkl'.length);
      if (entries.has(`${prefix}constants.pkl`)) {
        throw new Error(`${file}: a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead`);
      }
      const bo = entries.get(`${prefix}byteorder`);
      if (bo) {
        const order = new TextDecoder().decode(await readEntry(zip, bo)).trim();
        if (order !== 'little') throw new Error(`${file}: byteorder '${order}' is not supported (little-endian only)`);
      }
      const pickle = await readEntry(zip, entries.get(pkl[0])!);
      const source = `${file}:${pkl[0]}`;
      const root = unpickle(pickle, {
        source,
        persistentLoad: (pid) => {
          if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
            throw new Error(`${source}: unsupported persistent id ${JSON.stringify(pid)}`);
          }
          const dtype = storageClassDtype(pid[1]);
          if (!dtype) throw new Error(`${source}: persistent id names no known storage class`);
          const [, , key, location, numel] = pid as [string, unknown, unknown, unknown, unknown];
          if (typeof key !== 'string' || typeof numel !== 'number') throw new Error(`${source}: malformed storage record`);
          const entry = entries.get(`${prefix}data/${key}`);
          if (!entry) throw new Error(`${source}: storage '${key}' has no entry '${prefix}data/${key}' in the archive`);
          if (entry.uncompressedSize !== numel * DTYPE_BYTES[dtype]) {
            throw new Error(
              `${file}: entry '${entry.fileName}' holds ${entry.uncompressedSize} bytes, but its storage record says ${numel} x ${dtype}`,
            );
          }
          return { kind: 'storage', key, dtype, location: String(location), numel } satisfies TorchStorageRef;
        },
      });
      return new TorchArchive(file, zip, entries, prefix, root);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  /**
   * The model state dict in the archive: the root object when it is a dict of tensors, else the first of
   * `state_dict`, `model`, `model_state_dict`, `state_dict_ema` that is one (training checkpoints of torchvision's
   * reference scripts and timm nest it this way).
   * @throws Error listing the top-level keys when no state dict is found.
   */
  stateDict(): Map<string, TorchTensorRef> {
    if (isStateDict(this.root)) return this.root;
    if (this.root instanceof Map) {
      for (const k of NESTED_STATE_DICT_KEYS) {
        const v = this.root.get(k);
        if (isStateDict(v)) return v;
      }
      throw new Error(
        `${this.file}: no state dict of tensors at the top level or under ${NESTED_STATE_DICT_KEYS.join('/')}; ` +
          `top-level keys: ${[...this.root.keys()].map(String).join(', ')}`,
      );
    }
    throw new Error(`${this.file}: the pickled object is not a dict`);
  }

  /**
   * Read one tensor's elements from its storage, gathering strided views into a C-contiguous copy.
   * @returns a new `HostTensor` (row-major, little-endian bytes) the caller owns.
   * @throws Error naming the tensor's storage when the view runs outside the storage.
   */
  async read(t: TorchTensorRef): Promise<HostTensor> {
    const es = DTYPE_BYTES[t.storage.dtype];
    const n = numElements(t.shape);
    let maxIndex = t.storageOffset;
    for (let d = 0; d < t.shape.length; d++) if (t.shape[d] > 0) maxIndex += (t.shape[d] - 1) * t.stride[d];
    if (n > 0 && (t.storageOffset < 0 || maxIndex >= t.storage.numel)) {
      throw new Error(
        `${this.file}: tensor view [${t.shape.join(', ')}] at offset ${t.storageOffset} runs outside storage '${t.storage.key}' of ${t.storage.numel} elements`,
      );
    }
    if (n === 0) return { dtype: t.storage.dtype, shape: [...t.shape], data: new Uint8Array(0) };
    const storage = await readEntry(this.zip, this.entries.get(`${this.prefix}data/${t.storage.key}`)!);
    return { dtype: t.storage.dtype, shape: [...t.shape], data: gatherStrided(storage, es, t) };
  }

  /** Release the archive's file handle. */
  close(): void {
    this.zip.close();
  }
}

/** Copy the elements of a strided view into row-major order. */
function gatherStrided(storage: Uint8Array, es: number, t: TorchTensorRef): Uint8Array {
  const n = numElements(t.shape);
  const rank = t.shape.length;
  let contiguous = true;
  for (let d = rank - 1, expect = 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) contiguous = false;
    expect *= t.shape[d];
  }
  if (contiguous) return storage.slice(t.storageOffset * es, (t.storageOffset + n) * es);
  const out = new Uint8Array(n * es);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < n; i++) {
    let src = t.storageOffset;
    for (let d = 0; d < rank; d++) src += idx[d] * t.stride[d];
    out.set(storage.subarray(src * es, (src + 1) * es), i * es);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}
