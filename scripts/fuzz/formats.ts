/**
 * The input formats the fuzzer mutates: for each, seed files (committed fixtures or files written here), a seeded
 * mutator, and the loader of the project the mutated file goes through (the same functions the CLI calls).
 *
 * Mutations follow the classic corpus fuzzers (AFL's bit flips, interesting values, block deletion, insertion and
 * duplication, truncation) and, for the structured formats, a structure-aware step: a JSON value replaced by an
 * interesting value (-1, 0, 2^53, 1e999, '', null, a 100,000-level nesting, ...), a key removed, an XML element cut or
 * duplicated, a PNG/JPEG size field raised (with the chunk CRC fixed, as a decompression bomb has it).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { zipBytes } from '../../test/helpers/zip';

/** The formats, in report order. */
export const FUZZ_FORMATS = ['cocoInstances', 'cocoResults', 'vocXml', 'labelPng', 'image', 'safetensors', 'pth', 'config'] as const;
export type FuzzFormat = (typeof FUZZ_FORMATS)[number];

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'test', 'fixtures');

/** mulberry32: a small seeded generator of floats in [0, 1) (Tommy Ettinger's public-domain constants). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of mutation `index` of `format` under run seed `seed` (FNV-1a over the three). */
export function mutationSeed(seed: number, format: FuzzFormat, index: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${format}:${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];

/** One mutated input: its bytes, the file extension, and a short description of what was changed. */
export interface Mutant {
  bytes: Uint8Array;
  ext: string;
  what: string;
  /** The seed file it came from. */
  seedFile: string;
  /**
   * Whether an accepted input must load as the seed does (a `.pth` with raw bytes changed: every byte is under a
   * CRC-32 or locates one), so that any difference is a silent corruption.
   */
  mustEqualSeed: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Generic byte mutations (AFL's havoc stage, abridged)

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

function mutateBytes(rng: Rng, src: Uint8Array, ops = 1 + int(rng, 4)): { bytes: Uint8Array; what: string } {
  let b = Buffer.from(src);
  const what: string[] = [];
  for (let k = 0; k < ops; k++) {
    const at = int(rng, Math.max(1, b.length));
    switch (int(rng, 8)) {
      case 0:
        if (b.length) b[at] ^= 1 << int(rng, 8);
        what.push(`flip bit @${at}`);
        break;
      case 1:
        if (b.length) b[at] = pick(rng, [0, 0xff, 0x7f, 0x80, int(rng, 256)]);
        what.push(`byte @${at}`);
        break;
      case 2:
        if (b.length >= at + 4) {
          const v = pick(rng, INTERESTING_U32);
          if (rng() < 0.5) b.writeUInt32LE(v >>> 0, at);
          else b.writeUInt32BE(v >>> 0, at);
          what.push(`u32 ${v} @${at}`);
        }
        break;
      case 3: {
        const n = 1 + int(rng, 64);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + n))]);
        what.push(`delete ${n} @${at}`);
        break;
      }
      case 4: {
        const n = 1 + int(rng, 32);
        const ins = Buffer.alloc(n);
        for (let i = 0; i < n; i++) ins[i] = int(rng, 256);
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        what.push(`insert ${n} @${at}`);
        break;
      }
      case 5: {
        const n = 1 + int(rng, 256);
        const from = int(rng, Math.max(1, b.length));
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]);
        what.push(`duplicate ${n} from @${from} to @${at}`);
        break;
      }
      case 6:
        b = b.subarray(0, at);
        what.push(`truncate @${at}`);
        break;
      default: {
        const n = 1 + int(rng, 16);
        for (let i = 0; i < n && at + i < b.length; i++) b[at + i] = int(rng, 256);
        what.push(`random ${n} @${at}`);
      }
    }
  }
  return { bytes: new Uint8Array(b), what: what.join(', ') };
}

// ---------------------------------------------------------------------------------------------------------------
// JSON: structure-aware mutations

/** Placeholders replaced in the serialized text by values JSON.stringify cannot write. */
const INF_TOKEN = '"__fuzz_1e999__"';
const NEG_INF_TOKEN = '"__fuzz_-1e999__"';

/** Stands for an array nested 100,000 levels deep, spliced into the text (JSON.stringify could not write it). */
const DEEP_TOKEN = '"__fuzz_deep__"';
const DEEP_TEXT = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;

function interestingJsonValue(rng: Rng): { value: unknown; what: string } {
  const choices: [string, () => unknown][] = [
    ['-1', () => -1],
    ['0', () => 0],
    ['1', () => 1],
    ['0.5', () => 0.5],
    ['-0.5', () => -0.5],
    ['2^31', () => 2 ** 31],
    ['2^53+2', () => 2 ** 53 + 2],
    ['1e308', () => 1e308],
    ['1e999', () => JSON.parse(INF_TOKEN)],
    ['-1e999', () => JSON.parse(NEG_INF_TOKEN)],
    ['1.7e8', () => 1.7e8],
    ['""', () => ''],
    ['"x"', () => 'x'],
    ['"1"', () => '1'],
    ['null', () => null],
    ['true', () => true],
    ['[]', () => []],
    ['{}', () => ({})],
    ['[1,2,3,4,5]', () => [1, 2, 3, 4, 5]],
    ['[-1,-1,-1,-1]', () => [-1, -1, -1, -1]],
    ['[0,0,1e9,1e9]', () => [0, 0, 1e9, 1e9]],
    ['100000-deep array', () => JSON.parse(DEEP_TOKEN)],
    ['100000-char string', () => 'a'.repeat(100_000)],
    ['{"counts":"0","size":[10,10]}', () => ({ counts: '0', size: [10, 10] })],
    ['{"counts":[5,5],"size":[4,4]}', () => ({ counts: [5, 5], size: [4, 4] })],
    ['[[0,0,1.7e8,0,0,10]]', () => [[0, 0, 1.7e8, 0, 0, 10]]],
  ];
  const [what, make] = pick(rng, choices);
  return { value: make(), what };
}

/** Every (container, key) of a JSON value, breadth first, at most `limit`. */
function jsonSlots(root: unknown, limit = 20000): { parent: Record<string, unknown> | unknown[]; key: string | number; path: string }[] {
  const out: { parent: Record<string, unknown> | unknown[]; key: string | number; path: string }[] = [];
  const queue: { v: unknown; path: string }[] = [{ v: root, path: '' }];
  while (queue.length && out.length < limit) {
    const { v, path: p } = queue.shift()!;
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push({ parent: v, key: i, path: `${p}[${i}]` });
        queue.push({ v: x, path: `${p}[${i}]` });
      });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push({ parent: v as Record<string, unknown>, key: k, path: `${p}.${k}` });
        queue.push({ v: x, path: `${p}.${k}` });
      }
    }
  }
  return out;
}

function serializeJson(v: unknown): Uint8Array {
  const text = JSON.stringify(v).split(INF_TOKEN).join('1e999').split(NEG_INF_TOKEN).join('-1e999').split(DEEP_TOKEN).join(DEEP_TEXT);
  return Buffer.from(text, 'utf8');
}

function mutateJson(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string } {
  if (rng() < 0.2) return mutateBytes(rng, src);
  const root = JSON.parse(Buffer.from(src).toString('utf8'));
  const slots = jsonSlots(root);
  const what: string[] = [];
  for (let k = 1 + int(rng, 2); k > 0 && slots.length; k--) {
    const s = pick(rng, slots);
    const r = rng();
    if (r < 0.65) {
      const { value, what: w } = interestingJsonValue(rng);
      (s.parent as Record<string | number, unknown>)[s.key] = value;
      what.push(`${s.path} = ${w}`);
    } else if (r < 0.8) {
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete s.parent[s.key as string];
      what.push(`delete ${s.path}`);
    } else if (r < 0.9 && Array.isArray(s.parent)) {
      s.parent.push(JSON.parse(JSON.stringify(s.parent[s.key as number] ?? null)));
      what.push(`duplicate ${s.path}`);
    } else {
      const v = (s.parent as Record<string | number, unknown>)[s.key];
      (s.parent as Record<string | number, unknown>)[s.key] = typeof v === 'number' ? String(v) : typeof v === 'string' ? Number(v.length) : [v];
      what.push(`retype ${s.path}`);
    }
  }
  return { bytes: serializeJson(root), what: what.join(', ') };
}

// ---------------------------------------------------------------------------------------------------------------
// XML (VOC annotations): text mutations

function mutateXml(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string } {
  if (rng() < 0.2) return mutateBytes(rng, src);
  let t = Buffer.from(src).toString('utf8');
  const what: string[] = [];
  for (let k = 1 + int(rng, 2); k > 0; k--) {
    switch (int(rng, 6)) {
      case 0: {
        const at = int(rng, t.length);
        t = t.slice(0, at);
        what.push(`cut @${at}`);
        break;
      }
      case 1: {
        const tags = [...t.matchAll(/<\/?[a-z_]+>/g)];
        if (tags.length) {
          const m = pick(rng, tags);
          t = t.slice(0, m.index) + t.slice(m.index! + m[0].length);
          what.push(`drop tag ${m[0]}`);
        }
        break;
      }
      case 2: {
        const nums = [...t.matchAll(/>(-?\d+(\.\d+)?)</g)];
        if (nums.length) {
          const m = pick(rng, nums);
          const v = pick(rng, ['-1', '0', '1e999', 'nan', '', 'abc', '99999999', '1.5', '-0', '2147483648']);
          t = `${t.slice(0, m.index! + 1)}${v}${t.slice(m.index! + 1 + m[1].length)}`;
          what.push(`number ${m[1]} -> '${v}'`);
        }
        break;
      }
      case 3: {
        const objs = [...t.matchAll(/<object>[\s\S]*?<\/object>/g)];
        if (objs.length) {
          const m = pick(rng, objs);
          t = t.slice(0, m.index! + m[0].length) + m[0] + t.slice(m.index! + m[0].length);
          what.push('duplicate an <object>');
        }
        break;
      }
      case 4: {
        const at = int(rng, t.length);
        const junk = pick(rng, ['<', '>', '&', '&amp', '<!--', ']]>', '<object>', '</annotation>', '\u0000', '<?xml version="1.0"?>']);
        t = t.slice(0, at) + junk + t.slice(at);
        what.push(`insert '${junk}' @${at}`);
        break;
      }
      default: {
        const names = [...t.matchAll(/<name>([^<]*)<\/name>/g)];
        if (names.length) {
          const m = pick(rng, names);
          const v = pick(rng, ['', ' ', 'RBC ', 'x'.repeat(5000), '<b>']);
          t = `${t.slice(0, m.index! + 6)}${v}${t.slice(m.index! + 6 + m[1].length)}`;
          what.push(`name -> '${v.slice(0, 8)}'`);
        }
      }
    }
  }
  return { bytes: Buffer.from(t, 'utf8'), what: what.join(', ') };
}

// ---------------------------------------------------------------------------------------------------------------
// PNG and JPEG: size fields raised (decompression bombs), plus byte mutations

function pngChunkCrcFixed(b: Buffer, chunkStart: number): void {
  const len = b.readUInt32BE(chunkStart);
  if (chunkStart + 12 + len <= b.length) b.writeUInt32BE(zlib.crc32(b.subarray(chunkStart + 4, chunkStart + 8 + len)) >>> 0, chunkStart + 8 + len);
}

function mutatePng(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string } {
  if (rng() < 0.7) return mutateBytes(rng, src);
  // IHDR starts at byte 8: length(4) 'IHDR'(4) width(4) height(4) depth color ... then CRC.
  const b = Buffer.from(src);
  const field = pick(rng, ['width', 'height', 'both', 'depth', 'color']);
  const v = pick(rng, [0, 1, 46000, 65535, 0x7fffffff, 0x80000000]);
  if (field === 'width' || field === 'both') b.writeUInt32BE(v >>> 0, 16);
  if (field === 'height' || field === 'both') b.writeUInt32BE(v >>> 0, 20);
  if (field === 'depth') b[24] = pick(rng, [1, 2, 4, 8, 16, 3, 0]);
  if (field === 'color') b[25] = pick(rng, [0, 2, 3, 4, 6, 1, 7]);
  pngChunkCrcFixed(b, 8);
  return { bytes: new Uint8Array(b), what: `IHDR ${field} = ${field === 'depth' ? b[24] : field === 'color' ? b[25] : v} (CRC fixed)` };
}

function mutateJpeg(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string } {
  if (rng() < 0.7) return mutateBytes(rng, src);
  const b = Buffer.from(src);
  // SOF0/SOF2 marker: FF C0/C2, length(2), precision(1), height(2), width(2).
  for (let i = 2; i + 9 < b.length; i++) {
    if (b[i] === 0xff && (b[i + 1] === 0xc0 || b[i + 1] === 0xc2)) {
      const v = pick(rng, [0, 1, 46000, 65535]);
      const field = pick(rng, ['height', 'width']);
      b.writeUInt16BE(v, field === 'height' ? i + 5 : i + 7);
      return { bytes: new Uint8Array(b), what: `SOF ${field} = ${v}` };
    }
  }
  return mutateBytes(rng, src);
}

// ---------------------------------------------------------------------------------------------------------------
// safetensors: header JSON mutated (length kept consistent) or bytes

function mutateSafetensors(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string } {
  const b = Buffer.from(src);
  const n = Number(b.readBigUInt64LE(0));
  if (rng() < 0.4 || n + 8 > b.length) return mutateBytes(rng, src);
  const m = mutateJson(rng, b.subarray(8, 8 + n));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(m.bytes.length));
  return { bytes: new Uint8Array(Buffer.concat([len, m.bytes, b.subarray(8 + n)])), what: `header: ${m.what}` };
}

// ---------------------------------------------------------------------------------------------------------------
// torch.save archives: an entry (usually data.pkl) mutated and the archive rewritten with correct CRC-32s, so the
// mutation reaches the unpickler and the storage checks instead of stopping at the CRC check; or raw bytes

/** The entries of a zip whose entries are stored (method 0), as torch.save writes them, in directory order. */
function readStoredZip(zip: Buffer): { name: string; data: Buffer }[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const out: { name: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const nameLen = zip.readUInt16LE(at + 28);
    const size = zip.readUInt32LE(at + 20);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    out.push({ name, data: zip.subarray(dataAt, dataAt + size) });
    at += 46 + nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return out;
}

/** Pickle opcodes worth planting: text INT/LONG/FLOAT, memo, container and global opcodes, with odd arguments. */
const PICKLE_SNIPPETS = ['I-1\n', 'I0x7fffffffffffffffff\n', 'Iabc\n', 'L1_0L\n', 'F1e999\n', 'Fx\n', 'g99\n', 'p-1\n', '(', 't', 'e', 'u', 's', '0', '1', '2', 'N', 'R', 'b', 'Q', 'cos\nsystem\n', '\x8a\xff', '\x95\xff\xff\xff\xff\xff\xff\xff\xff', '.'];

function mutatePth(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string; mustEqualSeed?: boolean } {
  if (rng() < 0.3) return { ...mutateBytes(rng, src), mustEqualSeed: true };
  const entries = readStoredZip(Buffer.from(src));
  const pklIndex = entries.findIndex((e) => e.name.endsWith('/data.pkl'));
  const i = rng() < 0.75 && pklIndex >= 0 ? pklIndex : int(rng, entries.length);
  const e = entries[i];
  let what: string;
  let data: Uint8Array;
  if (e.name.endsWith('/data.pkl') && rng() < 0.4) {
    const at = int(rng, e.data.length + 1);
    const snippet = pick(rng, PICKLE_SNIPPETS);
    data = Buffer.concat([e.data.subarray(0, at), Buffer.from(snippet, 'latin1'), e.data.subarray(at)]);
    what = `${e.name}: insert ${JSON.stringify(snippet)} @${at}`;
  } else {
    const m = mutateBytes(rng, e.data);
    data = m.bytes;
    what = `${e.name}: ${m.what}`;
  }
  const out = entries.map((x, j) => ({ name: x.name, data: j === i ? data : x.data }));
  return { bytes: new Uint8Array(zipBytes(out)), what: `${what} (archive rewritten, CRC-32s correct)` };
}

// ---------------------------------------------------------------------------------------------------------------
// Seeds

/** A small safetensors file written from its definition (8-byte length, JSON header, tensors tiled). */
function safetensorsSeed(): Uint8Array {
  const header = {
    __metadata__: { format: 'pt' },
    'conv1.weight': { dtype: 'F32', shape: [2, 3, 1, 1], data_offsets: [0, 24] },
    'bn1.num_batches_tracked': { dtype: 'I64', shape: [], data_offsets: [24, 32] },
    'fc.bias': { dtype: 'F16', shape: [3], data_offsets: [32, 38] },
    'mask': { dtype: 'BOOL', shape: [2], data_offsets: [38, 40] },
  };
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const data = Buffer.alloc(40);
  for (let i = 0; i < 6; i++) data.writeFloatLE(i / 4, i * 4);
  data.writeBigInt64LE(7n, 24);
  data.writeUInt16LE(0x3c00, 32);
  data[38] = 1;
  return new Uint8Array(Buffer.concat([len, json, data]));
}

/** What each format is made of: seed files and how to mutate them. */
export interface FormatSpec {
  seeds: { file: string; bytes: Uint8Array }[];
  ext: string;
  mutate: (rng: Rng, src: Uint8Array) => { bytes: Uint8Array; what: string; mustEqualSeed?: boolean };
}

function files(dir: string, re: RegExp): { file: string; bytes: Uint8Array }[] {
  return fs
    .readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => ({ file: path.join(dir, f), bytes: new Uint8Array(fs.readFileSync(path.join(dir, f))) }));
}

/** The COCO seed cases: ground truth, results and the case's iouType. */
export const COCO_CASES = ['case001_00', 'case001_08', 'case001_11'].map((c) => {
  const dir = path.join(FIXTURES, 'coco', c);
  return {
    gt: path.join(dir, 'gt.json'),
    dt: path.join(dir, 'dt.json'),
    iouType: (JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { iouType: 'bbox' | 'segm' }).iouType,
  };
});

/** Seeds and mutators of every format. */
export function formatSpecs(): Record<FuzzFormat, FormatSpec> {
  const read = (f: string) => ({ file: f, bytes: new Uint8Array(fs.readFileSync(f)) });
  return {
    cocoInstances: { seeds: COCO_CASES.map((c) => read(c.gt)), ext: '.json', mutate: mutateJson },
    cocoResults: { seeds: COCO_CASES.map((c) => read(c.dt)), ext: '.json', mutate: mutateJson },
    vocXml: { seeds: files(path.join(FIXTURES, 'bccd', 'BCCD', 'Annotations'), /\.xml$/), ext: '.xml', mutate: mutateXml },
    labelPng: { seeds: files(path.join(FIXTURES, 'voc_seg_oracle', 'gt'), /\.png$/), ext: '.png', mutate: mutatePng },
    image: { seeds: files(path.join(FIXTURES, 'bccd', 'BCCD', 'JPEGImages'), /\.jpg$/), ext: '.jpg', mutate: mutateJpeg },
    safetensors: { seeds: [{ file: '(written by scripts/fuzz/formats.ts)', bytes: safetensorsSeed() }], ext: '.safetensors', mutate: mutateSafetensors },
    pth: { seeds: files(path.join(REPO, 'test', 'golden'), /^tiny_(state_dict|checkpoint|resnet18_stem)\.pth$/), ext: '.pth', mutate: mutatePth },
    config: {
      seeds: ['classification/resnet18_hymenoptera.json', 'detection/retinanet_r18_fpn_bccd_quickstart.json', 'segmentation/fcn_r50_d8_camvid.json'].map((f) =>
        read(path.join(REPO, 'configs', f)),
      ),
      ext: '.json',
      mutate: mutateJson,
    },
  };
}

/**
 * Mutation `index` of `format`: a seed picked and mutated by a generator seeded from (seed, format, index), so the
 * same arguments always give the same bytes.
 */
export function makeMutant(specs: Record<FuzzFormat, FormatSpec>, format: FuzzFormat, seed: number, index: number): Mutant & { seedIndex: number } {
  const spec = specs[format];
  const rng = mulberry32(mutationSeed(seed, format, index));
  const seedIndex = int(rng, spec.seeds.length);
  const s = spec.seeds[seedIndex];
  const m = spec.mutate(rng, s.bytes);
  return { bytes: m.bytes, ext: spec.ext, what: m.what, seedFile: path.relative(REPO, s.file), seedIndex, mustEqualSeed: m.mustEqualSeed ?? false };
}
