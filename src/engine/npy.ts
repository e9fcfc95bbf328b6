/**
 * NumPy `.npy` files (format version 1.0), the array format Python and JavaScript users can both read
 * (`numpy.load`). Reference: numpy/lib/format.py, "A Simple File Format for NumPy Arrays" (NEP 1).
 */

/**
 * Encode a C-order float32 array as `.npy` bytes.
 * @param data the values, row-major.
 * @param shape dimensions; their product must equal `data.length`.
 * @throws Error when the shape does not match the data.
 */
export function encodeNpyFloat32(data: Float32Array, shape: number[]): Buffer {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`npy: shape [${shape}] holds ${n} values, got ${data.length}`);
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded with spaces to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = Buffer.alloc(total + data.byteLength);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('npy: big-endian hosts are not supported');
  out.set(bytes, total);
  return out;
}

/**
 * Decode a little-endian float32 `.npy` (version 1.0 or 2.0, C order).
 * @throws Error naming `source` when the magic, version, dtype or size is wrong.
 */
export function decodeNpyFloat32(buf: Buffer, source = 'npy'): { data: Float32Array; shape: number[] } {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${source}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${source}: only little-endian float32 is supported, header ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${source}: Fortran-order arrays are not supported`);
  const m = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!m) throw new Error(`${source}: no shape in header`);
  const shape = m[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length - offset !== n * 4) throw new Error(`${source}: expected ${n * 4} data bytes for shape [${shape}], found ${buf.length - offset}`);
  const data = new Float32Array(n);
  new Uint8Array(data.buffer).set(buf.subarray(offset));
  return { data, shape };
}
