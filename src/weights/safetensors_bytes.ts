/**
 * safetensors in memory: a whole file's bytes (from `fetch`, a `File`, an `ArrayBuffer`) parsed and validated with
 * the same header rules as the file reader, without any I/O module, so that it runs in browsers.
 *
 * Reference: huggingface/safetensors `README.md` (format) and `safetensors/src/tensor.rs` (validation).
 */
import { HostTensor } from './dtypes';
import { MAX_HEADER_BYTES, SafetensorsTensorInfo, parseHeader } from './safetensors_header';

/** A parsed safetensors buffer. Tensors are views copied out on `read`. */
export class SafetensorsBuffer {
  private constructor(
    /** Name of the source, for messages (a URL, a file name, `'buffer'`). */
    readonly source: string,
    private readonly bytes: Uint8Array,
    /** The `__metadata__` map (empty when absent). */
    readonly metadata: Readonly<Record<string, string>>,
    private readonly infos: Map<string, SafetensorsTensorInfo>,
  ) {}

  /**
   * Parse and validate a whole safetensors file held in memory.
   * @param source name used in error messages.
   * @throws Error naming `source` and the tensor or byte offset when the buffer is truncated or its header invalid.
   */
  static parse(data: ArrayBuffer | Uint8Array, source = 'buffer'): SafetensorsBuffer {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const size = bytes.byteLength;
    if (size < 8) throw new Error(`${source}: truncated: ${size} bytes, shorter than the 8-byte header length`);
    const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) {
      throw new Error(`${source}: header length ${headerLen} at byte 0 exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
    }
    const n = Number(headerLen);
    if (8 + n > size) throw new Error(`${source}: truncated: header of ${n} bytes (from byte 8) runs past the end of the ${size}-byte buffer`);
    const { metadata, infos } = parseHeader(source, bytes.subarray(8, 8 + n), 8 + n, size);
    return new SafetensorsBuffer(source, bytes, metadata, infos);
  }

  /** Tensor names in header order. */
  keys(): string[] {
    return [...this.infos.keys()];
  }

  /** dtype, shape and location of `name`. @throws Error when there is no such tensor. */
  info(name: string): SafetensorsTensorInfo {
    const i = this.infos.get(name);
    if (!i) throw new Error(`${this.source}: no tensor '${name}'`);
    return i;
  }

  /** One tensor's bytes, copied (row-major, little-endian). @throws Error when there is no such tensor. */
  read(name: string): HostTensor {
    const i = this.info(name);
    return { dtype: i.dtype, shape: [...i.shape], data: this.bytes.slice(i.fileOffset, i.fileOffset + i.byteLength) };
  }
}
