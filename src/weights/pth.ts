/**
 * Reader of PyTorch `torch.save` files, in both formats:
 * - the zip format (the default since torch 1.6): a zip archive `<name>/data.pkl` (the pickled object, interpreted
 *   by our restricted unpickler), `<name>/data/<key>` (one entry per storage, raw little-endian bytes, usually stored
 *   uncompressed), `<name>/version` and, in newer versions, `<name>/byteorder`. The central directory is read on
 *   open; storage bytes are read from disk only when a tensor is asked for.
 * - the legacy format (torch < 1.6, or `_use_new_zipfile_serialization=False`; torchvision's older published weights,
 *   e.g. `resnet50-19c8e357.pth` and `fasterrcnn_resnet50_fpn_coco-258fb6c6.pth`): five pickles in a row (torch's
 *   magic number, the protocol version 1001, the system info, the object with storages as persistent ids, the sorted
 *   storage keys), then each storage as an int64 element count and its raw bytes. The file is read into memory.
 * TorchScript archives and the pre-0.4 tar format are refused with a message.
 *
 * Reference: torch `torch/serialization.py` (`_save`, `_load`, `_legacy_save`, `_legacy_load`, `persistent_load`),
 * `torch/_utils.py` (`_rebuild_tensor_v2`).
 */
import * as fs from 'fs';
import * as yauzl from 'yauzl';
import * as zlib from 'zlib';
import { previewValue } from '../util/preview';
import { DTYPE_BYTES, HostTensor, WeightDtype, numElements } from './dtypes';
import { TorchStorageRef, TorchTensorRef, storageClassDtype, unpickle, unpickleAt } from './torch_pickle';

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

/** torch's `MAGIC_NUMBER` and `PROTOCOL_VERSION`, the first two pickles of a legacy `torch.save` file. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
/** Largest legacy file read (it is read into memory whole): Node's largest Buffer. */
export const MAX_LEGACY_FILE_BYTES = 2 ** 31 - 1;

/** Where an archive's storages are: zip entries, or byte ranges of a legacy file. */
interface StorageSource {
  /** The bytes of storage `key` (its record's element count x element size). */
  bytes(key: string): Promise<Uint8Array>;
  /** How messages name storage `key`. */
  describe(key: string): string;
  close(): void;
}

/** An open `torch.save` archive. Call `close()` when done. */
export class TorchArchive {
  private constructor(
    readonly file: string,
    private readonly storages: StorageSource,
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
      if (await startsWithLegacyPickle(file)) return await TorchArchive.openLegacy(file, size);
      await checkZip64EndRecords(file, size);
    } catch (e) {
      throw (e as Error).message.includes(file) ? e : new Error(`${file}: cannot read the archive (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
    } catch (e) {
      throw new Error(`${file}: not a torch.save file (${(e as Error).message.replace(/\.$/, '')}): neither a zip archive nor a legacy ` +
        'pickle stream; a truncated or damaged file, or another format (convert it to safetensors)');
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
      const storages: StorageSource = {
        bytes: (key) => readEntry(zip, entries.get(`${prefix}data/${key}`)!, file),
        describe: (key) => `storage entry '${prefix}data/${key}'`,
        close: () => zip.close(),
      };
      return new TorchArchive(file, storages, root);
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
    const where = `${this.file}: tensor view of ${this.storages.describe(t.storage.key)}`;
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
    const storage = await this.storages.bytes(t.storage.key);
    return { dtype: t.storage.dtype, shape: [...t.shape], data: gatherStrided(storage, es, t) };
  }

  /** Release the archive's file handle (a legacy file's bytes). */
  close(): void {
    this.storages.close();
  }

  /**
   * Open a legacy (pre-1.6) `torch.save` file: read it whole, unpickle its five pickles and locate each storage.
   * @throws Error naming the file for a wrong magic number or protocol version, a big-endian file, a malformed or
   *   forbidden pickle, a storage listed twice or never referenced, or storage data that runs past the end of the file.
   */
  private static async openLegacy(file: string, size: number): Promise<TorchArchive> {
    if (size > MAX_LEGACY_FILE_BYTES) {
      throw new Error(`${file}: a legacy torch.save file of ${size} bytes, more than the ${MAX_LEGACY_FILE_BYTES} read into memory; re-save it with a recent torch (zip format)`);
    }
    const buf = await fs.promises.readFile(file);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const header = { source: `${file}: legacy torch.save header` };
    const magic = unpickleAt(bytes, 0, header);
    if (magic.value !== LEGACY_MAGIC) throw new Error(`${file}: not a torch.save file (a pickle stream without torch's magic number)`);
    const version = unpickleAt(bytes, magic.end, header);
    if (version.value !== LEGACY_PROTOCOL_VERSION) {
      throw new Error(`${file}: legacy torch.save protocol version ${previewValue(version.value)}, expected ${LEGACY_PROTOCOL_VERSION}`);
    }
    const sysInfo = unpickleAt(bytes, version.end, header);
    if (!(sysInfo.value instanceof Map) || sysInfo.value.get('little_endian') !== true) {
      throw new Error(`${file}: legacy torch.save written on a big-endian machine (or without system info); little-endian only`);
    }
    // Root storages by key (element count as pickled), and views into them (view key -> root key, element offset).
    const roots = new Map<string, TorchStorageRef>();
    const views = new Map<string, { root: string; offset: number }>();
    const source = `${file}: legacy torch.save object`;
    const object = unpickleAt(bytes, sysInfo.end, {
      source,
      persistentLoad: (pid) => {
        if (!Array.isArray(pid) || pid.length !== 6 || pid[0] !== 'storage') throw new Error(`${source}: unsupported persistent id ${previewValue(pid)}`);
        const dtype = storageClassDtype(pid[1]);
        if (!dtype) throw new Error(`${source}: persistent id names no known storage class`);
        const [, , key, location, numel, view] = pid as [string, unknown, unknown, unknown, unknown, unknown];
        if (typeof key !== 'string' || !Number.isSafeInteger(numel) || (numel as number) < 0) throw new Error(`${source}: malformed storage record ${previewValue(pid)}`);
        const known = roots.get(key);
        if (known && (known.dtype !== dtype || known.numel !== numel)) throw new Error(`${source}: storage ${previewValue(key)} is described twice, differently`);
        const root: TorchStorageRef = known ?? { kind: 'storage', key, dtype, location: previewValue(location, 40), numel: numel as number };
        roots.set(key, root);
        if (view === null) return root;
        const [viewKey, offset, viewSize] = Array.isArray(view) ? (view as unknown[]) : [];
        if (
          typeof viewKey !== 'string' || !Number.isSafeInteger(offset) || !Number.isSafeInteger(viewSize) ||
          (offset as number) < 0 || (viewSize as number) < 0 || (offset as number) + (viewSize as number) > root.numel
        ) {
          throw new Error(`${source}: malformed storage view ${previewValue(view)} of storage ${previewValue(key)} (${root.numel} elements)`);
        }
        views.set(viewKey, { root: key, offset: offset as number });
        return { kind: 'storage', key: viewKey, dtype, location: root.location, numel: viewSize as number } satisfies TorchStorageRef;
      },
    });
    const keysPickle = unpickleAt(bytes, object.end, { source: `${file}: legacy torch.save storage keys` });
    const keys = keysPickle.value;
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) throw new Error(`${file}: legacy torch.save storage keys are not a list of strings`);
    const ranges = new Map<string, { start: number; end: number }>();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = keysPickle.end;
    for (const key of keys as string[]) {
      const rec = roots.get(key);
      if (!rec) throw new Error(`${file}: legacy torch.save lists storage ${previewValue(key)}, which no tensor uses`);
      if (ranges.has(key)) throw new Error(`${file}: legacy torch.save lists storage ${previewValue(key)} twice`);
      if (at + 8 > size) throw new Error(`${file}: truncated: storage ${previewValue(key)} starts at byte ${at}, past the end of the ${size}-byte file`);
      const count = view.getBigInt64(at, true);
      if (count !== BigInt(rec.numel)) throw new Error(`${file}: storage ${previewValue(key)} at byte ${at} holds ${count} elements, its record says ${rec.numel}`);
      const start = at + 8;
      const end = start + rec.numel * DTYPE_BYTES[rec.dtype];
      if (end > size) throw new Error(`${file}: truncated: storage ${previewValue(key)} needs bytes ${start}..${end} of a ${size}-byte file`);
      ranges.set(key, { start, end });
      at = end;
    }
    const missing = [...roots.keys()].filter((k) => !ranges.has(k));
    if (missing.length > 0) throw new Error(`${file}: legacy torch.save has no data for storage ${missing.slice(0, 3).map((k) => previewValue(k)).join(', ')}`);
    const rangeOf = (key: string): { start: number; end: number } => {
      const v = views.get(key);
      if (!v) return ranges.get(key)!;
      const r = ranges.get(v.root)!;
      const es = DTYPE_BYTES[roots.get(v.root)!.dtype];
      return { start: r.start + v.offset * es, end: r.end };
    };
    const storages: StorageSource = {
      bytes: async (key) => {
        const r = rangeOf(key);
        return bytes.subarray(r.start, r.end);
      },
      describe: (key) => `storage ${previewValue(key)} at byte ${rangeOf(key).start - (views.has(key) ? 0 : 8)}`,
      close: () => undefined,
    };
    return new TorchArchive(file, storages, object.value);
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

/** Whether a file starts as a legacy `torch.save` does: pickle protocol 2 (`\\x80\\x02`), then torch's magic number. */
async function startsWithLegacyPickle(file: string): Promise<boolean> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const head = new Uint8Array(3);
    const { bytesRead } = await fh.read(head, 0, 3, 0);
    // PROTO 2, LONG1 (0x8a): the magic number is a 10-byte long.
    return bytesRead === 3 && head[0] === 0x80 && head[1] <= 5 && head[2] === 0x8a;
  } finally {
    await fh.close();
  }
}
