import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bytesOf, decodeFloat32, decodeInt32 } from '../../src/weights/dtypes';
import { SafetensorsFile, writeSafetensors } from '../../src/weights/safetensors';
import { expectRejects } from '../helpers/errors';

/** A safetensors file assembled by hand from a header object and a data buffer (the format's definition). */
function rawSafetensors(header: unknown, data: Uint8Array, headerLenOverride?: number): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf-8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerLenOverride ?? json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

describe('safetensors', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('SafetensorsFile.open / read', () => {
    it('reads a hand-built file: F32 [2,2] then I64 [2] with __metadata__', async () => {
      // Offsets per the format: tensor bytes relative to the end of the header, tiling the buffer.
      const f32 = new Float32Array([1, -2.5, 3.25, 1e-8]);
      const i64 = new BigInt64Array([-1n, 5n]);
      const data = Buffer.concat([Buffer.from(bytesOf(f32)), Buffer.from(bytesOf(i64))]);
      const file = path.join(dir, 'hand.safetensors');
      fs.writeFileSync(
        file,
        rawSafetensors(
          {
            __metadata__: { format: 'pt' },
            w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
            n: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
          },
          data,
        ),
      );
      const st = await SafetensorsFile.open(file);
      try {
        expect(st.metadata).to.deep.equal({ format: 'pt' });
        expect(st.keys()).to.deep.equal(['w', 'n']);
        const w = await st.read('w');
        expect(w.shape).to.deep.equal([2, 2]);
        expect([...decodeFloat32(w)]).to.deep.equal([...f32]);
        expect([...decodeInt32(await st.read('n'))]).to.deep.equal([-1, 5]);
      } finally {
        await st.close();
      }
    });

    it('decodes F16 (incl. subnormal, max, -0), BF16, F64, U8 and BOOL exactly', async () => {
      // F16 bit patterns: 0x3c00 = 1, 0xc000 = -2, 0x7bff = 65504, 0x0001 = 2^-24, 0x8000 = -0.
      const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000]);
      // BF16 is the top half of float32: 0x3f80 = 1, 0xc0a0 = -5, 0x3e80 = 0.25.
      const bf16 = new Uint16Array([0x3f80, 0xc0a0, 0x3e80]);
      const f64 = new Float64Array([0.1, -3]);
      const u8 = new Uint8Array([0, 200, 255]);
      const bool = new Uint8Array([1, 0]);
      const parts = [f64, f16, bf16, u8, bool].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
      let off = 0;
      const spans = parts.map((p) => [off, (off += p.length)]);
      const file = path.join(dir, 'dtypes.safetensors');
      fs.writeFileSync(
        file,
        rawSafetensors(
          {
            d: { dtype: 'F64', shape: [2], data_offsets: spans[0] },
            h: { dtype: 'F16', shape: [5], data_offsets: spans[1] },
            b: { dtype: 'BF16', shape: [3], data_offsets: spans[2] },
            u: { dtype: 'U8', shape: [3], data_offsets: spans[3] },
            t: { dtype: 'BOOL', shape: [2], data_offsets: spans[4] },
          },
          Buffer.concat(parts),
        ),
      );
      const st = await SafetensorsFile.open(file);
      try {
        const h = decodeFloat32(await st.read('h'));
        expect([...h]).to.deep.equal([1, -2, 65504, 2 ** -24, -0]);
        expect(Object.is(h[4], -0)).to.equal(true);
        expect([...decodeFloat32(await st.read('b'))]).to.deep.equal([1, -5, 0.25]);
        expect([...decodeFloat32(await st.read('d'))]).to.deep.equal([Math.fround(0.1), -3]);
        expect([...decodeInt32(await st.read('u'))]).to.deep.equal([0, 200, 255]);
        expect([...decodeInt32(await st.read('t'))]).to.deep.equal([1, 0]);
      } finally {
        await st.close();
      }
    });

    const bad: [string, () => Buffer, RegExp][] = [
      ['a file shorter than 8 bytes', () => Buffer.from([1, 2, 3]), /truncated: 3 bytes/],
      [
        'a header longer than the file',
        () => rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4), 5000),
        /truncated: header of 5000 bytes/,
      ],
      ['a header that is not JSON', () => Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x]')]), /not valid UTF-8 JSON/],
      [
        'an unknown dtype',
        () => rawSafetensors({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
        /tensor 'w': unknown dtype "F8_E4M3"/,
      ],
      [
        'a span inconsistent with shape x dtype',
        () => rawSafetensors({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
        /tensor 'w': data_offsets \[0, 8\] span 8 bytes but shape \[3\] of F32 needs 12/,
      ],
      [
        'a span past the end of the file (truncated data)',
        () => rawSafetensors({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(10)),
        /tensor 'w': data ends at file byte \d+, past the end/,
      ],
      [
        'overlapping spans',
        () =>
          rawSafetensors(
            { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
            new Uint8Array(12),
          ),
        /tensors 'a' and 'b' overlap at file byte/,
      ],
      [
        'a gap between spans',
        () =>
          rawSafetensors(
            { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
            new Uint8Array(12),
          ),
        /4 unclaimed bytes at file byte \d+ before tensor 'b'/,
      ],
      [
        'trailing bytes no tensor claims',
        () => rawSafetensors({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(9)),
        /5 bytes after the last tensor/,
      ],
      [
        'negative or reversed offsets',
        () => rawSafetensors({ a: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, new Uint8Array(4)),
        /tensor 'a': data_offsets \[4,2\] is not \[begin, end\]/,
      ],
      [
        'a non-string metadata value',
        () => rawSafetensors({ __metadata__: { step: 3 } }, new Uint8Array(0)),
        /__metadata__\['step'\] is number/,
      ],

      [
        // The format's limit (safetensors' N_MAX = 100,000,000): refused from the 8 length bytes, nothing else read.
        'a header length above 100,000,000 bytes',
        () => rawSafetensors({}, new Uint8Array(0), 100_000_001),
        /: header length 100000001 at byte 0 exceeds the 100000000-byte limit \(not a safetensors file\?\)$/,
      ],
      [
        'a header of 100,001 (empty) tensors',
        () =>
          rawSafetensors(
            Object.fromEntries(Array.from({ length: 100_001 }, (_, i) => [`t${i}`, { dtype: 'U8', shape: [0], data_offsets: [0, 0] }])),
            new Uint8Array(0),
          ),
        /: header lists more than 100000 entries \(tensors and metadata\); not a model file this reader accepts$/,
      ],
      [
        'a dtype nested 100,000 arrays deep (the message shows a bounded preview)',
        () => {
          const json = `{"w":{"dtype":${'['.repeat(100_000)}1${']'.repeat(100_000)},"shape":[1],"data_offsets":[0,1]}}`;
          const len = Buffer.alloc(8);
          len.writeBigUInt64LE(BigInt(json.length));
          return Buffer.concat([len, Buffer.from(json), new Uint8Array(1)]);
        },
        /tensor 'w': unknown dtype \[\[\[\[\[…\]\]\]\]\] \(supported: /,
      ],
      [
        'a JSON file (a config given where a checkpoint is expected)',
        () => Buffer.from(JSON.stringify({ task: 'detection', model: {} })),
        /: a JSON file \(a config\?\), not a safetensors file \(checkpoint or weights\)$/,
      ],
      [
        'a shape whose element count is not a safe integer',
        () => rawSafetensors({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, new Uint8Array(4)),
        /tensor 'w': shape \[1099511627776, 1099511627776\] has too many elements$/,
      ],
    ];
    for (const [what, make, pattern] of bad) {
      it(`rejects ${what}, naming the tensor or byte offset`, async () => {
        const file = path.join(dir, 'bad.safetensors');
        fs.writeFileSync(file, make());
        await expectRejects(SafetensorsFile.open(file), pattern);
        await expectRejects(SafetensorsFile.open(file), new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      });
    }

    it('a path that is a folder or missing: one line naming it', async () => {
      await expectRejects(SafetensorsFile.open(dir), new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      const missing = path.join(dir, 'missing.safetensors');
      await expectRejects(SafetensorsFile.open(missing), /missing\.safetensors: cannot open the safetensors file \(ENOENT\)$/);
    });

    it('reports a file truncated after open when a tensor is read', async () => {
      const file = path.join(dir, 'shrinks.safetensors');
      await writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [64], data: new Uint8Array(256) }]);
      const st = await SafetensorsFile.open(file);
      try {
        fs.truncateSync(file, fs.statSync(file).size - 100);
        await expectRejects(st.read('a'), /truncated while reading tensor 'a'/);
      } finally {
        await st.close();
      }
    });
  });

  describe('writeSafetensors', () => {
    it('writes the reference layout: 8-byte aligned header, dtype size descending then name, tensors tiled', async () => {
      const file = path.join(dir, 'w.safetensors');
      const a = new Float32Array([1, 2, 3]);
      const n = new BigInt64Array([42n]);
      const c = new Uint8Array([7]);
      await writeSafetensors(
        file,
        [
          { name: 'z.f32', dtype: 'F32', shape: [3], data: bytesOf(a) },
          { name: 'a.u8', dtype: 'U8', shape: [1, 1], data: () => c },
          { name: 'm.i64', dtype: 'I64', shape: [], data: async () => bytesOf(n) },
        ],
        { note: 'x' },
      );
      const buf = fs.readFileSync(file);
      const headerLen = Number(buf.readBigUInt64LE(0));
      expect((8 + headerLen) % 8).to.equal(0);
      const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf-8'));
      expect(header).to.deep.equal({
        __metadata__: { note: 'x' },
        'm.i64': { dtype: 'I64', shape: [], data_offsets: [0, 8] },
        'z.f32': { dtype: 'F32', shape: [3], data_offsets: [8, 20] },
        'a.u8': { dtype: 'U8', shape: [1, 1], data_offsets: [20, 21] },
      });
      expect(buf.length).to.equal(8 + headerLen + 21);
      const st = await SafetensorsFile.open(file);
      try {
        expect([...decodeFloat32(await st.read('z.f32'))]).to.deep.equal([1, 2, 3]);
        expect([...decodeInt32(await st.read('m.i64'))]).to.deep.equal([42]);
        expect((await st.read('a.u8')).data[0]).to.equal(7);
      } finally {
        await st.close();
      }
    });

    it('a failed write leaves the previous file intact and no temporary file behind', async () => {
      const file = path.join(dir, 'keep.safetensors');
      await writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [1], data: bytesOf(new Float32Array([5])) }]);
      const before = fs.readFileSync(file);
      await expectRejects(
        writeSafetensors(file, [{ name: 'a', dtype: 'F32', shape: [2], data: () => new Uint8Array(4) }]),
        /tensor 'a' of shape \[2\] F32 needs 8 bytes, got 4/,
      );
      expect(fs.readFileSync(file).equals(before)).to.equal(true);
      expect(fs.readdirSync(dir).filter((f) => f.includes('keep.safetensors.'))).to.deep.equal([]);
    });

    it('rejects duplicate names and the reserved __metadata__ name', async () => {
      const file = path.join(dir, 'dup.safetensors');
      const e = { name: 'a', dtype: 'U8' as const, shape: [1], data: new Uint8Array(1) };
      await expectRejects(writeSafetensors(file, [e, e]), /tensor 'a' appears twice/);
      await expectRejects(writeSafetensors(file, [{ ...e, name: '__metadata__' }]), /reserved/);
    });
  });
});
