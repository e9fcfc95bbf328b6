/**
 * Element types of serialized tensors (safetensors' names, which also cover torch's storage types) and the
 * conversions from their little-endian bytes to the typed arrays tfjs takes.
 *
 * Reference: huggingface/safetensors `safetensors/src/tensor.rs` (`Dtype`), torch `torch/storage.py`.
 */

/** The element types this package reads and writes, with safetensors' spelling. */
export type WeightDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<WeightDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Every dtype name, for error messages. */
export const WEIGHT_DTYPES = Object.keys(DTYPE_BYTES) as WeightDtype[];

/** Whether `s` names a dtype this package handles. */
export function isWeightDtype(s: unknown): s is WeightDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** Whether the dtype holds floating-point values. */
export function isFloatDtype(d: WeightDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/**
 * A tensor held in host memory as the raw little-endian bytes of a C-contiguous (row-major) array.
 * `data.byteLength === product(shape) * DTYPE_BYTES[dtype]`.
 */
export interface HostTensor {
  dtype: WeightDtype;
  /** Row-major dims; `[]` is a scalar. */
  shape: number[];
  /** Little-endian element bytes. */
  data: Uint8Array;
}

/** Number of elements of `shape` (1 for a scalar). @throws Error when a dim is not a non-negative safe integer. */
export function numElements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`invalid dimension ${String(d)} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new Error(`shape [${shape.join(', ')}] has too many elements`);
  return n;
}

function assertLittleEndianHost(): void {
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new Error('weight files are little-endian; big-endian hosts are not supported');
}

/** A copy of `bytes` starting at an offset aligned for any typed array. */
function aligned(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out.buffer;
}

/** IEEE 754 binary16 → number (exact). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Decode floating-point bytes to float32. F32 is copied bit for bit; F16 and BF16 widen exactly; F64 rounds to
 * nearest float32 (as torch's `.float()`).
 * @throws Error for a non-float dtype.
 */
export function decodeFloat32(t: HostTensor): Float32Array {
  assertLittleEndianHost();
  const n = t.data.byteLength / DTYPE_BYTES[t.dtype];
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(aligned(t.data));
    case 'F64':
      return Float32Array.from(new Float64Array(aligned(t.data)));
    case 'F16': {
      const h = new Uint16Array(aligned(t.data));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToNumber(h[i]);
      return out;
    }
    case 'BF16': {
      const h = new Uint16Array(aligned(t.data));
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = h[i] << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new Error(`cannot decode ${t.dtype} as float32`);
  }
}

/**
 * Decode integer or boolean bytes to int32.
 * @throws Error for a float dtype, or an I64 value outside the int32 range (the message gives the element index).
 */
export function decodeInt32(t: HostTensor): Int32Array {
  assertLittleEndianHost();
  switch (t.dtype) {
    case 'I32':
      return new Int32Array(aligned(t.data));
    case 'I64': {
      const v = new BigInt64Array(aligned(t.data));
      const out = new Int32Array(v.length);
      for (let i = 0; i < v.length; i++) {
        if (v[i] > 2147483647n || v[i] < -2147483648n) throw new Error(`I64 element ${i} = ${v[i]} does not fit int32`);
        out[i] = Number(v[i]);
      }
      return out;
    }
    case 'I16':
      return Int32Array.from(new Int16Array(aligned(t.data)));
    case 'I8':
      return Int32Array.from(new Int8Array(aligned(t.data)));
    case 'U8':
    case 'BOOL':
      return Int32Array.from(t.data);
    default:
      throw new Error(`cannot decode ${t.dtype} as int32`);
  }
}

/** The little-endian bytes of a typed array, without copying (a view on the same memory). */
export function bytesOf(a: Float32Array | Int32Array | Uint8Array | Float64Array | BigInt64Array): Uint8Array {
  assertLittleEndianHost();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
