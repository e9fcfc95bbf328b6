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
import * as fs from 'fs';
import * as yauzl from 'yauzl';
import * as zlib from 'zlib';
import { previewValue } from '../util/preview';
import { DTYPE_BYTES, HostTensor, WeightDtype, numElements } from './dtypes';
import { TorchStorageRef, TorchTensorRef, storageClassDtype, unpickle } from './torch_pickle';

/**
 * Largest `data.pkl` read, in bytes: the same bound as safetensors' header (100,000,000 bytes). The pickle holds
 * only names, shapes and storage records (ResNet-152's is 60 kB), so a larger one is damaged or not a weights file,
 * and is refused before it is inflated.
 */
export const MAX_PICKLE_BYTES = 100_000_000;
/** Most entries an archive may list (one per storage plus a few): far above any state dict, and bounded. */
export const MAX_ARCHIVE_ENTRIES = 1_000_000;
/** Largest tensor `read` materializes, in bytes (a broadcast view can name more elements than its storage holds). */
export const MAX_TENSOR_BYTES = 2 ** 31 - 1;

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

/**
 * Read and inflate one archive entry, checking its CRC-32 against the central directory (as Python's `zipfile`
 * does; yauzl checks sizes only), so a damaged archive never yields different tensor values.
 * @throws Error naming the file and the entry for a damaged local header, a bad deflate stream, a size or CRC-32
 *   mismatch, or a read error.
 */
async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, file: string): Promise<Uint8Array> {
  const where = `${file}: archive entry '${entry.fileName}'`;
  const chunks: Buffer[] = [];
  let crc = 0;
  try {
    const stream = await zip.openReadStreamPromise(entry);
    for await (const c of stream) {
      chunks.push(c as Buffer);
      crc = zlib.crc32(c as Buffer, crc);
    }
  } catch (e) {
    throw new Error(`${where}: cannot be read (${(e as Error).message}); the archive is damaged or truncated`);
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) {
    throw new Error(
      `${where}: CRC-32 ${hex32(crc)} of the data does not match ${hex32(entry.crc32)} recorded in the archive; the file is damaged`,
    );
  }
  const buf = Buffer.concat(chunks);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * Check the Zip64 end records before yauzl reads them: yauzl hands their 64-bit offsets to `fs.read` unchecked, and
 * a position above 2^53 throws inside an I/O callback, which ends the process instead of rejecting.
 * @throws Error naming the file when the Zip64 end record or the central directory it locates lies outside the file.
 * Reference: PKWARE APPNOTE.TXT 4.3.14-4.3.16; yauzl `fromRandomAccessReader` (the same search for the end record).
 */
async function checkZip64EndRecords(file: string, size: number): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const tailLen = Math.min(size, 22 + 0xffff + 20);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) !== 0x06054b50) continue;
      if (i < 20 || tail.readUInt32LE(i - 20) !== 0x07064b50) return;
      const at = tail.readBigUInt64LE(i - 20 + 8);
      if (at + 56n > BigInt(size)) {
        throw new Error(`${file}: damaged zip: its Zip64 end record is said to be at byte ${at}, past the end of the ${size}-byte file`);
      }
      const rec = Buffer.alloc(56);
      await fh.read(rec, 0, 56, Number(at));
      if (rec.readUInt32LE(0) !== 0x06064b50) return; // yauzl reports the bad signature
      const cdSize = rec.readBigUInt64LE(40);
      const cdOffset = rec.readBigUInt64LE(48);
      if (cdOffset + cdSize > BigInt(size)) {
        throw new Error(`${file}: damaged zip: its central directory (${cdSize} bytes from byte ${cdOffset}) runs past the end of the ${size}-byte file`);
      }
      return;
    }
  } finally {
    await fh.close();
  }
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
   * @throws Error naming the file (and the entry, where one is at fault) for the legacy format, a damaged zip
   *   (central directory, local header, deflate stream, size or CRC-32), a TorchScript archive, a big-endian
   *   archive, a missing or oversized (> {@link MAX_PICKLE_BYTES}) `data.pkl`, a malformed pickle, or a pickle that
   *   needs a forbidden global (the message names it).
   */
  static async open(file: string): Promise<TorchArchive> {
    let zip: yauzl.ZipFile;
    let size: number;
    try {
      size = (await fs.promises.stat(file)).size;
      await checkZip64EndRecords(file, size);
    } catch (e) {
      throw (e as Error).message.includes(file) ? e : new Error(`${file}: cannot read the archive (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
    } catch (e) {
      throw new Error(`${file}: not a torch.save zip archive (${(e as Error).message.replace(/\.$/, '')}): a truncated or damaged file, or ` +
        'one written by torch < 1.6 or with _use_new_zipfile_serialization=False, which must be re-saved with a recent torch or converted to safetensors');
    }
    try {
      if (zip.entryCount > MAX_ARCHIVE_ENTRIES) {
        throw new Error(`${file}: the zip directory lists ${zip.entryCount} entries, more than the ${MAX_ARCHIVE_ENTRIES} a weights archive may hold`);
      }
      const entries = new Map<string, yauzl.Entry>();
      try {
        for await (const e of zip.eachEntry()) entries.set(e.fileName, e);
      } catch (e) {
        throw new Error(`${file}: the zip central directory is damaged (${(e as Error).message})`);
      }
      for (const e of entries.values()) {
        // Zip64 extra fields can carry any 64-bit offset or size; yauzl would pass them to fs.read (see above).
        const { relativeOffsetOfLocalHeader: at, compressedSize: n } = e;
        if (!Number.isSafeInteger(at) || !Number.isSafeInteger(n) || !Number.isSafeInteger(e.uncompressedSize) || at + 30 + n > size) {
          throw new Error(
            `${file}: archive entry '${e.fileName}': its directory record places ${n} bytes at byte ${at}, outside the ${size}-byte file (damaged or truncated)`,
          );
        }
      }
      const pkl = [...entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
      if (pkl.length !== 1) throw new Error(`${file}: expected one '<name>/data.pkl' entry in the archive, found ${pkl.length}`);
      const prefix = pkl[0].slice(0, -'data.pkl'.length);
      if (entries.has(`${prefix}constants.pkl`)) {
        throw new Error(`${file}: a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead`);
      }
      const bo = entries.get(`${prefix}byteorder`);
      if (bo) {
        if (bo.uncompressedSize > 16) throw new Error(`${file}: archive entry '${bo.fileName}' holds ${bo.uncompressedSize} bytes, expected 'little' or 'big'`);
        const order = new TextDecoder().decode(await readEntry(zip, bo, file)).trim();
        if (order !== 'little') {
          throw new Error(`${file}: archive entry '${bo.fileName}': byteorder ${previewValue(order)} is not supported (little-endian only)`);
        }
      }
      const pklEntry = entries.get(pkl[0])!;
      if (pklEntry.uncompressedSize > MAX_PICKLE_BYTES) {
        throw new Error(
          `${file}: archive entry '${pkl[0]}' holds ${pklEntry.uncompressedSize} bytes, more than the ${MAX_PICKLE_BYTES} a state dict's pickle may take (damaged, or not a weights file)`,
        );
      }
      const pickle = await readEntry(zip, pklEntry, file);
      const source = `${file}: archive entry '${pkl[0]}'`;
      const root = unpickle(pickle, {
        source,
        persistentLoad: (pid) => {
          if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
            throw new Error(`${source}: unsupported persistent id ${previewValue(pid)}`);
          }
          const dtype = storageClassDtype(pid[1]);
          if (!dtype) throw new Error(`${source}: persistent id names no known storage class`);
          const [, , key, location, numel] = pid as [string, unknown, unknown, unknown, unknown];
          if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) {
            throw new Error(`${source}: malformed storage record ${previewValue(pid)}`);
          }
          const entry = entries.get(`${prefix}data/${key}`);
          if (!entry) throw new Error(`${source}: storage ${previewValue(key)} has no entry under '${prefix}data/' in the archive`);
          if (entry.uncompressedSize !== (numel as number) * DTYPE_BYTES[dtype]) {
            throw new Error(
              `${file}: archive entry '${entry.fileName}' holds ${entry.uncompressedSize} bytes, but its storage record says ${numel} x ${dtype}`,
            );
          }
          return { kind: 'storage', key, dtype, location: previewValue(location, 40), numel: numel as number } satisfies TorchStorageRef;
        },
      });
      return new TorchArchive(file, zip, entries, prefix, root);
    } catch (e) {
      zip.close();
      throw e instanceof Error && e.message.includes(file) ? e : new Error(`${file}: ${(e as Error).message ?? String(e)}`);
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
   * @throws Error naming the file and the tensor's storage entry when the shape is invalid, the view runs outside the
   *   storage or needs more than {@link MAX_TENSOR_BYTES} bytes, or the entry is damaged (CRC-32, inflate, size).
   */
  async read(t: TorchTensorRef): Promise<HostTensor> {
    const es = DTYPE_BYTES[t.storage.dtype];
    const where = `${this.file}: tensor view of storage entry '${this.prefix}data/${t.storage.key}'`;
    let n: number;
    try {
      n = numElements(t.shape);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    if (n * es > MAX_TENSOR_BYTES) {
      throw new Error(`${where}: shape [${t.shape.join(', ')}] needs ${n * es} bytes, more than the ${MAX_TENSOR_BYTES} one tensor may take`);
    }
    let maxIndex = t.storageOffset;
    for (let d = 0; d < t.shape.length; d++) if (t.shape[d] > 0) maxIndex += (t.shape[d] - 1) * t.stride[d];
    if (n > 0 && (t.storageOffset < 0 || maxIndex >= t.storage.numel)) {
      throw new Error(
        `${this.file}: tensor view [${t.shape.join(', ')}] at offset ${t.storageOffset} runs outside storage '${t.storage.key}' of ${t.storage.numel} elements`,
      );
    }
    if (n === 0) return { dtype: t.storage.dtype, shape: [...t.shape], data: new Uint8Array(0) };
    const storage = await readEntry(this.zip, this.entries.get(`${this.prefix}data/${t.storage.key}`)!, this.file);
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
