/**
 * The project's real loaders, one per fuzzed format, and the rule that tells a clear error from an unclear one.
 * Runs inside the fuzzer's child processes (`child.ts`).
 */
import * as fs from 'fs';
import { evaluateCocoFiles } from '../../src/cli/eval_coco';
import { loadConfig } from '../../src/config/load';
import { decodeRgb } from '../../datasets/pipeline/decode';
import { readLabelMask } from '../../datasets/pipeline/png_index';
import { readVocXml } from '../../datasets/voc/xml';
import { SafetensorsFile } from '../../src/weights/safetensors';
import { openWeightSource } from '../../src/weights/weight_file';
import * as zlib from 'zlib';
import { COCO_CASES, FuzzFormat, formatSpecs } from './formats';

/** What a loader reports for an accepted input: `dropped` says what it silently lost (e.g. XML objects). */
export interface LoadSummary {
  dropped?: string;
}

/**
 * Run the mutated `file` of `format` through the loader a user's command would use.
 * @param seedIndex which seed the mutant came from (COCO: which case's other file to pair it with).
 * @param mustEqualSeed an accepted input must load exactly as its seed (see `Mutant.mustEqualSeed`).
 */
export async function loadFuzzInput(format: FuzzFormat, file: string, seedIndex: number, mustEqualSeed = false): Promise<LoadSummary> {
  switch (format) {
    case 'cocoInstances': {
      const c = COCO_CASES[seedIndex];
      evaluateCocoFiles(file, c.dt, { iouType: c.iouType, perClass: false });
      return {};
    }
    case 'cocoResults': {
      const c = COCO_CASES[seedIndex];
      evaluateCocoFiles(c.gt, file, { iouType: c.iouType, perClass: false });
      return {};
    }
    case 'vocXml': {
      const ann = await readVocXml(file);
      // Every <object> element of the text must come back (a file cut in the middle used to load 2 of 20).
      const inText = (fs.readFileSync(file, 'latin1').match(/<object>/g) ?? []).length;
      return ann.objects.length < inText ? { dropped: `${inText - ann.objects.length} of ${inText} <object> elements` } : {};
    }
    case 'labelPng':
      await readLabelMask(file);
      return {};
    case 'image':
      await decodeRgb(file);
      return {};
    case 'safetensors': {
      const st = await SafetensorsFile.open(file);
      try {
        for (const k of st.keys()) await st.read(k);
      } finally {
        await st.close();
      }
      return {};
    }
    case 'pth': {
      // Every byte of a torch.save archive is covered by a CRC-32 (data.pkl, storages) or locates one, so an
      // archive with raw bytes changed that loads must give the seed's tensors exactly; anything else is a silent
      // corruption. (An archive rewritten with correct CRC-32s may hold other values.)
      const got = await pthDigest(file);
      if (!mustEqualSeed) return {};
      const want = await pthDigest(formatSpecs().pth.seeds[seedIndex].file);
      const differing = [...new Set([...got.keys(), ...want.keys()])].filter((k) => got.get(k) !== want.get(k));
      return differing.length > 0 ? { dropped: `tensor values or names differ from the seed's: ${differing.slice(0, 3).join(', ')}` } : {};
    }
    case 'config':
      loadConfig(file);
      return {};
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}

/** Name → CRC-32 of dtype, shape and bytes of every tensor of a weights file. */
async function pthDigest(file: string): Promise<Map<string, number>> {
  const src = await openWeightSource(file);
  const out = new Map<string, number>();
  try {
    for (const k of src.keys()) {
      const t = await src.read(k);
      out.set(k, zlib.crc32(t.data, zlib.crc32(`${t.dtype}[${t.shape.join(',')}]`)));
    }
  } finally {
    await src.close();
  }
  return out;
}

/** Error classes thrown by JavaScript itself: raised from inside a library, never one of the project's messages. */
const ENGINE_ERRORS = new Set(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError', 'AggregateError']);

/**
 * Messages of libraries and of the engine that say nothing about the input, even with a file name in front
 * (`model.pth: unexpected EOF`): the whole remainder of the message matches one of these.
 */
const RAW_MESSAGES: RegExp[] = [
  /^unexpected EOF$/i,
  /^invalid typed array length/i,
  /^invalid array length$/i,
  /^array buffer allocation failed$/i,
  /^maximum call stack size exceeded$/i,
  /^cannot read propert(y|ies) of/i,
  /^cannot convert .* to a BigInt$/i,
  /is not a function$/,
  /is not iterable$/,
  /^unexpected end of (JSON )?input$/i,
  /^Input buffer contains unsupported image format$/,
  /^VipsJpeg: /,
  /^(ENOENT|EISDIR|ENOTDIR|EACCES|EEXIST|ENOSPC)\b/,
  /^Aborted\(\)/,
];

/** Why an error is unclear, or undefined when it is clear. */
export type Unclarity = 'not an Error' | 'engine error' | 'names no file' | 'names another file' | 'stack trace in message' | 'raw library message';

/**
 * The definition of a clear error used by the fuzz script and test: an Error (not a TypeError/RangeError/... from
 * inside a library) whose message names the input file, carries no stack trace, and says more than a raw library
 * or engine message once the file names are taken out.
 * @param other the other file of the command (COCO: the results file when the ground truth is fuzzed): naming only
 *   it blames the wrong file.
 */
export function unclarity(err: { name?: string; message?: string } | undefined, file: string, other?: string): Unclarity | undefined {
  if (!err || typeof err.message !== 'string') return 'not an Error';
  if (err.name && ENGINE_ERRORS.has(err.name)) return 'engine error';
  const msg = err.message;
  if (!msg.includes(file)) return other && msg.includes(other) ? 'names another file' : 'names no file';
  if (/\n\s+at .+(:\d+:\d+\)?|\(native\))$/m.test(msg)) return 'stack trace in message';
  const rest = msg
    .split(file)
    .join(' ')
    .replace(/^[\s:'"-]+|[\s:'".]+$/g, '')
    .trim();
  if (rest.length < 8 || RAW_MESSAGES.some((re) => re.test(rest))) return 'raw library message';
  return undefined;
}
