/**
 * Deterministic, platform-independent tensor values from an integer hash of (tensor name, element index), for
 * parity tests against torchvision: `scripts/parity/gen_resnet_golden.py` computes the same values bit for bit
 * in NumPy, so the weights never need to be shipped.
 *
 * Definition (all integer arithmetic modulo 2^32, floating point in IEEE binary64 until the final rounding to
 * float32, round to nearest even):
 *   h    = FNV-1a 32 of the UTF-8 bytes of the name (offset basis 0x811c9dc5, prime 0x01000193)
 *   x    = fmix32(h XOR (index * 0x9e3779b9))         murmur3's 32-bit finalizer
 *   u    = 2 * x / 2^32 - 1                            uniform in [-1, 1)
 * and, by torch state-dict name, in torch's layout (index = flat row-major index):
 *   *.num_batches_tracked   0 (int64)
 *   *.running_var           0.75 + 0.25 u              in [0.5, 1)
 *   *.running_mean          0.1 u
 *   *.bias                  0.1 u
 *   *.weight, rank 1        1 + 0.1 u                  (BatchNorm gamma)
 *   *.weight, rank >= 2     u * sqrt(3 / fanIn)        fanIn = product of dims after the first (weight variance 1/fanIn)
 *   anything else (inputs)  u
 *
 * Reference: Fowler–Noll–Vo FNV-1a; Appleby, MurmurHash3 `fmix32`.
 */
import { bytesOf } from './dtypes';

/** FNV-1a 32-bit hash of the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** murmur3's 32-bit finalizer. */
export function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** `count` hash-uniform values in [-1, 1) for `name`, in float64 (see the module comment). */
export function hashUniform(name: string, count: number): Float64Array {
  const h = fnv1a32(name);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * fmix32((h ^ Math.imul(i, 0x9e3779b9)) >>> 0)) / 4294967296 - 1;
  return out;
}

/**
 * The float32 values of the torch state-dict tensor `name` with torch shape `shape` (row-major in torch's layout,
 * so OIHW for convolution kernels and `[out, in]` for Linear weights).
 * @throws Error for `num_batches_tracked` (an int64 zero, see `hashStateBytes`).
 */
export function hashTensorValues(name: string, shape: readonly number[]): Float32Array {
  if (name.endsWith('num_batches_tracked')) throw new Error(`'${name}' is an int64 zero, not a float tensor`);
  const n = shape.reduce((a, b) => a * b, 1);
  const u = hashUniform(name, n);
  const out = new Float32Array(n);
  let f: (v: number) => number;
  if (name.endsWith('running_var')) f = (v) => 0.75 + 0.25 * v;
  else if (name.endsWith('running_mean') || name.endsWith('.bias')) f = (v) => 0.1 * v;
  else if (name.endsWith('.weight') && shape.length === 1) f = (v) => 1 + 0.1 * v;
  else if (name.endsWith('.weight')) {
    const scale = Math.sqrt(3 / shape.slice(1).reduce((a, b) => a * b, 1));
    f = (v) => v * scale;
  } else f = (v) => v;
  for (let i = 0; i < n; i++) out[i] = f(u[i]);
  return out;
}

/** The little-endian bytes of a hash-initialized state tensor (`num_batches_tracked`: int64 zero). */
export function hashStateBytes(name: string, shape: readonly number[]): Uint8Array {
  if (name.endsWith('num_batches_tracked')) return new Uint8Array(8);
  return bytesOf(hashTensorValues(name, shape));
}

/**
 * Order-sensitive checksum of float32 values: sum over i of bits(v_i) * (i + 1), modulo 2^32, where bits is the
 * IEEE binary32 pattern as an unsigned integer. The golden files store it per tensor.
 */
export function float32Checksum(values: Float32Array): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let s = 0;
  for (let i = 0; i < bits.length; i++) s = (s + Math.imul(bits[i], i + 1)) >>> 0;
  return s;
}
