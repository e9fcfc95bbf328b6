import { expect } from 'chai';
import { decodeNpyFloat32, encodeNpyFloat32 } from '../../src/engine/npy';

describe('npy', () => {
  it('encodes the NEP 1 layout byte for byte (numpy.save of float32 [2, 3])', () => {
    const bytes = encodeNpyFloat32(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    // numpy 1.24: b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + spaces + "\n"
    expect(bytes.subarray(0, 8)).to.deep.equal(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    expect(bytes.readUInt16LE(8)).to.equal(118); // 128 - 10
    const header = bytes.toString('latin1', 10, 128);
    expect(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }")).to.equal(true);
    expect(header.endsWith(' \n')).to.equal(true);
    expect(bytes.length).to.equal(128 + 24);
    expect(bytes.readFloatLE(128 + 20)).to.equal(6);
  });

  it('round-trips, including a 1-D shape written as (n,)', () => {
    const a = new Float32Array([0.5, -1.25, 3e-8]);
    const bytes = encodeNpyFloat32(a, [3]);
    expect(bytes.toString('latin1', 10, 80)).to.contain("'shape': (3,)");
    const back = decodeNpyFloat32(bytes);
    expect(back.shape).to.deep.equal([3]);
    expect(Array.from(back.data)).to.deep.equal(Array.from(a));
  });

  it('rejects a shape that does not match and a truncated file', () => {
    expect(() => encodeNpyFloat32(new Float32Array(5), [2, 3])).to.throw(/shape \[2,3\] holds 6 values, got 5/);
    const bytes = encodeNpyFloat32(new Float32Array(6), [2, 3]);
    expect(() => decodeNpyFloat32(bytes.subarray(0, bytes.length - 4), 'f.npy')).to.throw(/f\.npy: expected 24 data bytes/);
  });
});
