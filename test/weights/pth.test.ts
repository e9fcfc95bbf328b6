import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decodeFloat32, HostTensor } from '../../src/weights/dtypes';
import { TorchArchive } from '../../src/weights/pth';
import { unpickle } from '../../src/weights/torch_pickle';
import { openWeightSource } from '../../src/weights/weight_file';
import * as zlib from 'zlib';
import { expectRejects } from '../helpers/errors';
import { entryDataOffset, zipBytes } from '../helpers/zip';

const GOLDEN = path.resolve(__dirname, '..', 'golden');

/** test/golden/tiny_pth.json, written by scripts/parity/gen_pth_fixture.py from torch's own tensors. */
interface TinyExpected {
  torch: string;
  stateDict: Record<string, { shape: number[]; dtype: string; values: (number | string)[] }>;
}
const expected = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'tiny_pth.json'), 'utf-8')) as TinyExpected;

const TORCH_DTYPE: Record<string, string> = { float32: 'F32', float16: 'F16', int64: 'I64', bool: 'BOOL' };

function values(h: HostTensor): (number | string)[] {
  switch (h.dtype) {
    case 'I64':
      return [...new BigInt64Array(h.data.slice().buffer)].map(String);
    case 'BOOL':
      return [...h.data];
    default:
      return [...decodeFloat32(h)];
  }
}

/** The archive holds tiny_pth.json's state dict: every tensor's name (in order), dtype, shape and values. */
async function expectTinyStateDict(archive: TorchArchive): Promise<void> {
  const sd = archive.stateDict();
  expect([...sd.keys()]).to.deep.equal(Object.keys(expected.stateDict));
  for (const [name, want] of Object.entries(expected.stateDict)) {
    const h = await archive.read(sd.get(name)!);
    expect(h.dtype, name).to.equal(TORCH_DTYPE[want.dtype]);
    expect(h.shape, name).to.deep.equal(want.shape);
    // float16 and float32 values are exact in JSON (torch wrote them as float64 reprs); int64 as strings.
    expect(values(h), name).to.deep.equal(want.values.map((v) => (typeof v === 'boolean' ? Number(v) : v)));
  }
}

/** `s` as a literal inside a RegExp. */
function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('torch.save archives (.pth)', () => {
  it(`tiny_state_dict.pth (torch ${expected.torch}): every tensor's dtype, shape and values as torch saved them`, async () => {
    const archive = await TorchArchive.open(path.join(GOLDEN, 'tiny_state_dict.pth'));
    try {
      await expectTinyStateDict(archive);
    } finally {
      archive.close();
    }
  });

  it('reads strided views: transposed (strides [1, 4]) and offset views sharing a storage', async () => {
    const archive = await TorchArchive.open(path.join(GOLDEN, 'tiny_state_dict.pth'));
    try {
      const sd = archive.stateDict();
      const t = sd.get('extra.transposed')!;
      expect(t.stride).to.deep.equal([1, 4]);
      const v = sd.get('extra.offset_view')!;
      expect(v.storageOffset).to.equal(5);
      expect(v.storage.key).to.equal(sd.get('extra.base')!.storage.key);
      // base = arange(12).reshape(3, 4) / 8; base[1:, 1:3] = [[5, 6], [9, 10]] / 8.
      expect([...decodeFloat32(await archive.read(v))]).to.deep.equal([5 / 8, 6 / 8, 9 / 8, 10 / 8]);
    } finally {
      archive.close();
    }
  });

  it('finds the state dict nested under "model" in a training checkpoint, and keeps the other values', async () => {
    const archive = await TorchArchive.open(path.join(GOLDEN, 'tiny_checkpoint.pth'));
    try {
      const root = archive.root as Map<string, unknown>;
      expect(root.get('epoch')).to.equal(3);
      expect(root.get('lr')).to.equal(0.1);
      expect(root.get('names')).to.deep.equal(['a', 'b']);
      expect((root.get('nested') as Map<string, unknown>).get('k')).to.deep.equal([1, 2.5, null, true]);
      expect([...archive.stateDict().keys()]).to.deep.equal(Object.keys(expected.stateDict));
    } finally {
      archive.close();
    }
    const src = await openWeightSource(path.join(GOLDEN, 'tiny_checkpoint.pth'));
    try {
      expect(src.format).to.equal('pth');
      expect(src.info('0.weight')).to.deep.equal({ dtype: 'F32', shape: [4, 3, 3, 3] });
      expect(values(await src.read('3.bias'))).to.deep.equal(expected.stateDict['3.bias'].values);
    } finally {
      await src.close();
    }
  });

  it('refuses a global outside the allow list, naming it (collections.Counter in tiny_forbidden.pth)', async () => {
    await expectRejects(TorchArchive.open(path.join(GOLDEN, 'tiny_forbidden.pth')), /forbidden global 'collections.Counter'/);
  });

  it(`tiny_state_dict_legacy.pth (torch ${expected.torch}, legacy format): the same tensors as the zip archive, views included`, async () => {
    const archive = await TorchArchive.open(path.join(GOLDEN, 'tiny_state_dict_legacy.pth'));
    try {
      await expectTinyStateDict(archive);
      const sd = archive.stateDict();
      const v = sd.get('extra.offset_view')!;
      expect([v.storageOffset, v.storage.key]).to.deep.equal([5, sd.get('extra.base')!.storage.key]);
    } finally {
      archive.close();
    }
    const src = await openWeightSource(path.join(GOLDEN, 'tiny_state_dict_legacy.pth'));
    try {
      expect(src.format).to.equal('pth');
      expect(values(await src.read('3.bias'))).to.deep.equal(expected.stateDict['3.bias'].values);
    } finally {
      await src.close();
    }
  });

  it('a legacy file cut short or with another magic number, and a non-archive: one error naming the file and what is wrong', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pth-'));
    try {
      const whole = fs.readFileSync(path.join(GOLDEN, 'tiny_state_dict_legacy.pth'));
      const magicOnly = path.join(dir, 'magic_only.pth');
      fs.writeFileSync(magicOnly, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
      await expectRejects(openWeightSource(magicOnly), new RegExp(`^${escapeRe(magicOnly)}: legacy torch.save header: truncated pickle`));
      const cutInData = path.join(dir, 'cut_in_data.pth');
      fs.writeFileSync(cutInData, whole.subarray(0, whole.length - 10));
      await expectRejects(TorchArchive.open(cutInData), new RegExp(`^${escapeRe(cutInData)}: truncated: storage "\\d+" needs bytes \\d+\\.\\.${whole.length} of a ${whole.length - 10}-byte file`));
      const cutInPickle = path.join(dir, 'cut_in_pickle.pth');
      fs.writeFileSync(cutInPickle, whole.subarray(0, 200));
      await expectRejects(TorchArchive.open(cutInPickle), new RegExp(`^${escapeRe(cutInPickle)}: legacy torch.save object: truncated pickle`));
      const otherMagic = path.join(dir, 'other_magic.pth');
      const changed = Buffer.from(whole);
      changed[5] ^= 0xff; // inside the 10-byte magic number
      fs.writeFileSync(otherMagic, changed);
      await expectRejects(TorchArchive.open(otherMagic), /not a torch.save file \(a pickle stream without torch's magic number\)/);
      const junk = path.join(dir, 'junk.pth');
      fs.writeFileSync(junk, Buffer.from('PK\x03\x04 not really a zip'));
      await expectRejects(TorchArchive.open(junk), /not a torch.save file \(.*\): neither a zip archive nor a legacy pickle stream/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('torch.save archives: damaged and oversized files', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pth-bad-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const golden = fs.readFileSync(path.join(GOLDEN, 'tiny_state_dict.pth'));

  /** The golden archive with one byte of `entry`'s stored data XOR-ed with 0x01; returns the file's path. */
  function flipped(name: string, entry: string): string {
    const b = Buffer.from(golden);
    b[entryDataOffset(b, entry) + 3] ^= 0x01;
    const file = path.join(dir, name);
    fs.writeFileSync(file, b);
    return file;
  }

  it("one flipped bit in a storage entry: read names the file, the entry and both CRC-32s (zipfile: 'Bad CRC-32')", async () => {
    // Python's zipfile refuses this archive: "Bad CRC-32 for file 'tiny_state_dict/data/0'"; 0xfec6dedd is the
    // CRC-32 zipfile's infolist() reports for that entry of the golden file.
    const file = flipped('flip_storage.pth', 'tiny_state_dict/data/0');
    const data = fs.readFileSync(file).subarray(entryDataOffset(fs.readFileSync(file), 'tiny_state_dict/data/0'));
    const actual = (zlib.crc32(data.subarray(0, 432)) >>> 0).toString(16).padStart(8, '0');
    const archive = await TorchArchive.open(file);
    try {
      const sd = archive.stateDict();
      const ref = [...sd.values()].find((t) => t.storage.key === '0')!;
      let err: Error | undefined;
      await archive.read(ref).catch((e: Error) => (err = e));
      expect(err?.message).to.equal(
        `${file}: archive entry 'tiny_state_dict/data/0': CRC-32 0x${actual} of the data does not match 0xfec6dedd recorded in the archive; the file is damaged`,
      );
    } finally {
      archive.close();
    }
  });

  it('one flipped bit in data.pkl: open refuses, naming the entry', async () => {
    const file = flipped('flip_pickle.pth', 'tiny_state_dict/data.pkl');
    await expectRejects(
      TorchArchive.open(file),
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: archive entry 'tiny_state_dict/data\\.pkl': CRC-32 0x[0-9a-f]{8} of the data does not match 0x87e968c9 recorded in the archive; the file is damaged$`),
    );
  });

  it('a data.pkl declared as 1 GiB is refused before it is read', async () => {
    const file = path.join(dir, 'huge_pickle.pth');
    // Deflated, so the directory's sizes are consistent with the file: 1 GiB of zeros would deflate to about 1 MB.
    fs.writeFileSync(file, zipBytes([{ name: 'archive/data.pkl', data: Uint8Array.from([0x80, 0x02, 0x7d, 0x2e]), declaredSize: 2 ** 30, deflate: true }]));
    await expectRejects(
      openWeightSource(file),
      /huge_pickle\.pth: archive entry 'archive\/data\.pkl' holds 1073741824 bytes, more than the 100000000 a state dict's pickle may take \(damaged, or not a weights file\)$/,
    );
  });

  it('an archive cut in half: names the file and says it is not a complete zip', async () => {
    const file = path.join(dir, 'half.pth');
    fs.writeFileSync(file, golden.subarray(0, golden.length >> 1));
    await expectRejects(
      openWeightSource(file),
      /half\.pth: not a torch\.save file \(End of central directory record signature not found\. Either not a zip file, or file is truncated\): neither a zip archive nor a legacy pickle stream; a truncated or damaged file/,
    );
  });

  it('a Zip64 end record placed at byte 2^63 (yauzl passed it to fs.read, which threw inside a callback and ended the process)', async () => {
    const file = path.join(dir, 'zip64.pth');
    const z = zipBytes([{ name: 'archive/data.pkl', data: Buffer.from('\x80\x02}.', 'latin1') }]);
    // Zip64 end-of-central-directory locator (APPNOTE 4.3.15) just before the end record: signature, disk 0,
    // offset of the Zip64 end record = 2^63, 1 disk.
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(2n ** 63n, 8);
    locator.writeUInt32LE(1, 16);
    fs.writeFileSync(file, Buffer.concat([z.subarray(0, z.length - 22), locator, z.subarray(z.length - 22)]));
    await expectRejects(
      openWeightSource(file),
      new RegExp(`zip64\\.pth: damaged zip: its Zip64 end record is said to be at byte 9223372036854775808, past the end of the ${z.length + 20}-byte file$`),
    );
  });

  it('a directory record placing an entry past the end of the file', async () => {
    const file = path.join(dir, 'offset.pth');
    const z = zipBytes([{ name: 'archive/data.pkl', data: Buffer.from('\x80\x02}.', 'latin1') }]);
    // The central directory starts after the local header (30 bytes), the name (16) and the data (4); its
    // relative-offset-of-local-header field is at byte 42 of the record.
    z.writeUInt32LE(0x7ffffff0, 30 + 16 + 4 + 42);
    fs.writeFileSync(file, z);
    await expectRejects(
      openWeightSource(file),
      /offset\.pth: archive entry 'archive\/data\.pkl': its directory record places 4 bytes at byte 2147483632, outside the 134-byte file \(damaged or truncated\)$/,
    );
  });

  it('a missing file and a folder: one line naming the path', async () => {
    await expectRejects(openWeightSource(path.join(dir, 'missing.pth')), /missing\.pth: cannot read the weights file \(ENOENT\)$/);
    await expectRejects(openWeightSource(dir), /: cannot read the weights file \(a folder\)$/);
  });

  it('a data.pkl that is not a pickle, and one cut short, name the file and the entry', async () => {
    const file = path.join(dir, 'not_pickle.pth');
    fs.writeFileSync(file, zipBytes([{ name: 'archive/data.pkl', data: Buffer.from('zzz') }]));
    await expectRejects(openWeightSource(file), /not_pickle\.pth: archive entry 'archive\/data\.pkl': unsupported pickle opcode 0x7a \(pickle byte 0\)$/);
    // PROTO 2, EMPTY_DICT, then BINUNICODE claiming 255 bytes of which 2 are there.
    fs.writeFileSync(file, zipBytes([{ name: 'archive/data.pkl', data: Buffer.from('\x80\x02}X\xff\x00\x00\x00ab', 'latin1') }]));
    await expectRejects(
      openWeightSource(file),
      /not_pickle\.pth: archive entry 'archive\/data\.pkl': truncated pickle: needed 255 more bytes \(pickle byte 3\)$/,
    );
  });
});

describe('unpickle (restricted)', () => {
  const p = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

  it('refuses os.system (protocol 0 GLOBAL) before calling anything', () => {
    // c os\nsystem\n ( S'echo' \n t R .   == pickle.dumps of a __reduce__ returning (os.system, ('echo',))
    expect(() => unpickle(p("cos\nsystem\n(S'echo'\ntR."), { source: 'evil.pkl' })).to.throw(/evil.pkl: forbidden global 'os.system'/);
  });

  it('refuses builtins.eval through STACK_GLOBAL (protocol 4)', () => {
    // PROTO 4, SHORT_BINUNICODE 'builtins', SHORT_BINUNICODE 'eval', STACK_GLOBAL
    const b = p('\x80\x04\x8c\x08builtins\x8c\x04eval\x93');
    expect(() => unpickle(b, { source: 'x' })).to.throw(/forbidden global 'builtins.eval'/);
  });

  it('interprets protocol 2 containers and numbers (hand-assembled from pickletools opcodes)', () => {
    // PROTO 2 } MARK X'a' K1 X'b' ] MARK G(1.5) J(-7) \x8a\x09(2^64, LONG1 9 bytes) e u .
    const parts = [
      '\x80\x02}(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00b](G',
      Buffer.from(new Float64Array([1.5]).buffer).reverse().toString('latin1'),
      'J\xf9\xff\xff\xff\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01eu.',
    ];
    const v = unpickle(p(parts.join('')), { source: 'x' }) as Map<string, unknown>;
    expect(v.get('a')).to.equal(1);
    expect(v.get('b')).to.deep.equal([1.5, -7, 2n ** 64n]);
  });

  it('reports truncation and unsupported opcodes with the byte offset', () => {
    expect(() => unpickle(p('\x80\x02X\xff\x00\x00\x00ab'), { source: 'x' })).to.throw(/truncated pickle.*byte 2/);
    expect(() => unpickle(p('\x80\x02\x82\x01'), { source: 'x' })).to.throw(/unsupported pickle opcode 0x82/);
  });

  it("text INT and LONG (protocol 0) parse as CPython's _pickle does, a bad one is an error naming the source", () => {
    // Values from CPython 3 pickle.loads on the same bytes: I12 -> 12, I0x1f -> 31, I010 -> 8 (strtol octal),
    // I00/I01 -> False/True, L-5L -> -5, a 30-digit LONG -> the exact integer.
    const load = (s: string): unknown => unpickle(p(s), { source: 'x.pkl' });
    expect(load('I12\n.')).to.equal(12);
    expect(load('I0x1f\n.')).to.equal(31);
    expect(load('I010\n.')).to.equal(8);
    expect(load('I00\n.')).to.equal(false);
    expect(load('I01\n.')).to.equal(true);
    expect(load('L-5L\n.')).to.equal(-5);
    expect(load('L123456789012345678901234567890L\n.')).to.equal(123456789012345678901234567890n);
    expect(load('F-2.5e3\n.')).to.equal(-2500);
    // CPython: ValueError "invalid literal for int() with base 0: b'abc\n'"; before, a raw BigInt SyntaxError.
    expect(() => load('Iabc\n.')).to.throw(Error, /^x\.pkl: INT argument "abc" is not an integer \(pickle byte 0\)$/);
    expect(() => load('(L1.5L\n.')).to.throw(Error, /^x\.pkl: LONG argument "1\.5" is not an integer \(pickle byte 1\)$/);
    expect(() => load('F1_0.5\n.')).to.throw(Error, /^x\.pkl: FLOAT argument "1_0\.5" is not a number \(pickle byte 0\)$/);
  });

  it('APPENDS of 500,000 items does not overflow the call stack', () => {
    // ] ( K0 x 500000 e .
    const b = Buffer.concat([Buffer.from(']('), Buffer.alloc(2 * 500_000, 'K\x00', 'latin1'), Buffer.from('e.')]);
    const v = unpickle(Uint8Array.from(b), { source: 'x' }) as number[];
    expect(v.length).to.equal(500_000);
    expect(v[499_999]).to.equal(0);
  });
});
