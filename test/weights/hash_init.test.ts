import { expect } from 'chai';
import { float32Checksum, fmix32, fnv1a32, hashTensorValues, hashUniform } from '../../src/weights/hash_init';

describe('hash_init', () => {
  it('fnv1a32 matches the published FNV-1a 32-bit test vectors', () => {
    // Fowler–Noll–Vo reference vectors: "" -> 0x811c9dc5, "a" -> 0xe40c292c, "foobar" -> 0xbf9cf968.
    expect(fnv1a32('')).to.equal(0x811c9dc5);
    expect(fnv1a32('a')).to.equal(0xe40c292c);
    expect(fnv1a32('foobar')).to.equal(0xbf9cf968);
  });

  it('fmix32: 0 is a fixed point; 1 -> 0x514e28b7 (murmur3 fmix32(1), also what the NumPy generator computes)', () => {
    expect(fmix32(0)).to.equal(0);
    expect(fmix32(1)).to.equal(0x514e28b7);
  });

  it('uniform values lie in [-1, 1) and the kinds follow their ranges', () => {
    const u = hashUniform('layer1.0.conv1.weight', 1000);
    expect(Math.min(...u)).to.be.at.least(-1);
    expect(Math.max(...u)).to.be.below(1);
    const rv = hashTensorValues('bn1.running_var', [64]);
    expect(Math.min(...rv)).to.be.at.least(0.5);
    const w = hashTensorValues('conv1.weight', [64, 3, 7, 7]);
    expect(Math.max(...w.map(Math.abs))).to.be.at.most(Math.sqrt(3 / 147));
  });

  it('float32Checksum weights each element by its position (hand-computed)', () => {
    // bits(1.0) = 0x3f800000, bits(2.0) = 0x40000000: 1*0x3f800000 + 2*0x40000000 = 0xbf800000 (mod 2^32).
    expect(float32Checksum(new Float32Array([1, 2]))).to.equal(0xbf800000);
  });
});
