/**
 * safetensors reader and writer.
 *
 * Layout: 8 bytes `N` (unsigned 64-bit little-endian), then `N` bytes of UTF-8 JSON mapping each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the byte buffer that follows the header) plus an
 * optional `__metadata__` string→string map, then the byte buffer holding every tensor C-contiguous and
 * little-endian. As in the reference implementation, the header is at most 100 MB, the tensors tile the byte
 * buffer exactly (no overlap, no gap, nothing after the last one) and each tensor's byte span equals
 * `numel(shape) * sizeof(dtype)`.
 *
 * Reading is lazy: `SafetensorsFile.open` reads only the header; each tensor is read from disk at its offset when
 * asked for, so a multi-GB file is never held in memory twice.
 *
 * Reference: huggingface/safetensors `README.md` (format) and `safetensors/src/tensor.rs` (validation, writer
 * order: dtype alignment descending, then name; header padded with spaces to a multiple of 8 bytes).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DTYPE_BYTES, HostTensor, WeightDtype, isWeightDtype, numElements } from './dtypes';
import { MAX_HEADER_BYTES, SafetensorsTensorInfo, parseHeader } from './safetensors_header';

export { MAX_HEADER_BYTES, MAX_HEADER_ENTRIES } from './safetensors_header';
export type { SafetensorsTensorInfo } from './safetensors_header';

/** Read `length` bytes at `position`, failing if the file ends first. */
async function readExactly(fh: fs.promises.FileHandle, file: string, position: number, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) {
      throw new Error(`${file}: truncated while reading ${what}: needed bytes ${position}..${position + length}, file ends at ${position + done}`);
    }
    done += bytesRead;
  }
  return out;
}

/**
 * An open safetensors file. Tensors are read on demand; call `close()` when done.
 */
export class SafetensorsFile {
  /** The `__metadata__` map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly infos: Map<string, SafetensorsTensorInfo>;

  private constructor(
    readonly file: string,
    private fh: fs.promises.FileHandle | undefined,
    metadata: Record<string, string>,
    infos: Map<string, SafetensorsTensorInfo>,
  ) {
    this.metadata = metadata;
    this.infos = infos;
  }

  /**
   * Open `file` and validate its header against the file size.
   * @throws Error naming the file and the offending tensor or byte offset when the file is truncated, the header is
   *   not a JSON object, a dtype is unknown, a shape is invalid, a tensor's byte span disagrees with its shape and
   *   dtype, spans overlap or leave gaps, or a span runs past the end of the file.
   */
  static async open(file: string): Promise<SafetensorsFile> {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(file, 'r');
    } catch (e) {
      throw new Error(`${file}: cannot open the safetensors file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      const size = (await fh.stat()).size;
      if (size < 8) throw new Error(`${file}: truncated: ${size} bytes, shorter than the 8-byte header length`);
      const lenBytes = await readExactly(fh, file, 0, 8, 'the header length');
      if (lenBytes[0] === 0x7b) throw new Error(`${file}: a JSON file (a config?), not a safetensors file (checkpoint or weights)`);
      const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) {
        throw new Error(`${file}: header length ${headerLen} at byte 0 exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
      }
      const n = Number(headerLen);
      if (8 + n > size) throw new Error(`${file}: truncated: header of ${n} bytes (from byte 8) runs past the end of the ${size}-byte file`);
      const headerBytes = await readExactly(fh, file, 8, n, 'the header');
      const { metadata, infos } = parseHeader(file, headerBytes, 8 + n, size);
      return new SafetensorsFile(file, fh, metadata, infos);
    } catch (e) {
      await fh.close();
      throw e instanceof Error && e.message.includes(file) ? e : new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Tensor names in header order. */
  keys(): string[] {
    return [...this.infos.keys()];
  }

  /** Whether the file holds a tensor named `name`. */
  has(name: string): boolean {
    return this.infos.has(name);
  }

  /** dtype, shape and location of `name`. @throws Error when there is no such tensor. */
  info(name: string): SafetensorsTensorInfo {
    const i = this.infos.get(name);
    if (!i) throw new Error(`${this.file}: no tensor '${name}'`);
    return i;
  }

  /**
   * Read one tensor's bytes from disk.
   * @returns a new `HostTensor` (row-major, little-endian bytes) the caller owns.
   * @throws Error when the tensor does not exist, the file was closed, or the file shrank since `open`.
   */
  async read(name: string): Promise<HostTensor> {
    const i = this.info(name);
    if (!this.fh) throw new Error(`${this.file}: read of '${name}' after close()`);
    const data = await readExactly(this.fh, this.file, i.fileOffset, i.byteLength, `tensor '${name}'`);
    return { dtype: i.dtype, shape: [...i.shape], data };
  }

  /** Release the file handle. Idempotent. */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }
}

/** One tensor to write. `data` may be produced on demand so that only one tensor is in memory at a time. */
export interface SafetensorsEntry {
  name: string;
  dtype: WeightDtype;
  /** Row-major dims; `[]` for a scalar. */
  shape: number[];
  /** Little-endian element bytes (`numel(shape) * sizeof(dtype)` of them), or a function producing them. */
  data: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
}

/** A unique temporary name next to `file` (same directory, so the final rename is atomic). */
export function temporaryPath(file: string): string {
  const rand = Math.floor(Math.random() * 0x100000000).toString(16);
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${rand}.tmp`);
}

/**
 * Write tensors and metadata to `file` in safetensors format. The file is written under a temporary name in the
 * same directory, flushed and renamed over `file`, so a failed or interrupted write never replaces an existing
 * file.
 *
 * Tensors are laid out in the reference writer's order (dtype size descending, then name), which keeps every
 * tensor aligned to its element size once the header is padded to a multiple of 8 bytes.
 *
 * @param entries tensors with unique names (`__metadata__` is reserved); their bytes are not retained.
 * @param metadata optional `__metadata__` string map.
 * @throws Error naming the tensor when names repeat, a shape is invalid, or the bytes produced do not match
 *   `numel(shape) * sizeof(dtype)`.
 */
export async function writeSafetensors(file: string, entries: SafetensorsEntry[], metadata?: Record<string, string>): Promise<void> {
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.name === '__metadata__') throw new Error(`${file}: '__metadata__' is reserved and cannot name a tensor`);
    if (seen.has(e.name)) throw new Error(`${file}: tensor '${e.name}' appears twice`);
    if (!isWeightDtype(e.dtype)) throw new Error(`${file}: tensor '${e.name}' has unknown dtype '${String(e.dtype)}'`);
    seen.add(e.name);
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${file}: metadata '${k}' must be a string, got ${typeof v}`);
    }
  }
  const ordered = [...entries].sort(
    (a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const sizes: number[] = [];
  for (const e of ordered) {
    let n: number;
    try {
      n = numElements(e.shape) * DTYPE_BYTES[e.dtype];
    } catch (err) {
      throw new Error(`${file}: tensor '${e.name}': ${(err as Error).message}`);
    }
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + n] };
    sizes.push(n);
    offset += n;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf-8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(json.length));

  const tmp = temporaryPath(file);
  const fh = await fs.promises.open(tmp, 'w');
  let ok = false;
  try {
    await fh.write(lenBytes);
    await fh.write(json);
    for (let i = 0; i < ordered.length; i++) {
      const e = ordered[i];
      const bytes = typeof e.data === 'function' ? await e.data() : e.data;
      if (bytes.byteLength !== sizes[i]) {
        throw new Error(
          `${file}: tensor '${e.name}' of shape [${e.shape.join(', ')}] ${e.dtype} needs ${sizes[i]} bytes, got ${bytes.byteLength}`,
        );
      }
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
        done += bytesWritten;
      }
    }
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await fs.promises.rm(tmp, { force: true });
  }
  await fs.promises.rename(tmp, file);
}
