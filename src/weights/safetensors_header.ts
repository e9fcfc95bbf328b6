/**
 * The safetensors header: parsing and validation against the file (or buffer) size, with no I/O, so that the
 * file reader (`safetensors.ts`) and the in-memory reader (`safetensors_bytes.ts`, browsers) share it.
 *
 * Reference: huggingface/safetensors `README.md` (format) and `safetensors/src/tensor.rs` (validation).
 */
import { previewValue } from '../util/preview';
import { DTYPE_BYTES, WEIGHT_DTYPES, WeightDtype, isWeightDtype, numElements } from './dtypes';

/** Largest header accepted (the reference implementation's limit), checked before the header is read. */
export const MAX_HEADER_BYTES = 100_000_000;
/**
 * Most header entries (tensors plus `__metadata__` keys) accepted. Model files hold hundreds to a few thousand
 * tensors; a 100 MB header of 1.7 million empty tensors takes 13 s and 1.7 GB to validate, so the count is checked
 * right after parsing, before any per-entry work.
 */
export const MAX_HEADER_ENTRIES = 100_000;

/** Where one tensor lives in a safetensors file. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: WeightDtype;
  shape: number[];
  /** Absolute byte offset of the first element in the file. */
  fileOffset: number;
  byteLength: number;
}

/**
 * Parse and validate the JSON header.
 * @param file name of the source, for messages.
 * @param bytes the header's UTF-8 bytes (after the 8-byte length).
 * @param dataStart absolute offset of the byte buffer (8 + header length).
 * @param fileSize total size of the file or buffer.
 * @throws Error naming the file and the tensor or byte offset when the header is invalid (see `SafetensorsFile.open`).
 */
export function parseHeader(
  file: string,
  bytes: Uint8Array,
  dataStart: number,
  fileSize: number,
): { metadata: Record<string, string>; infos: Map<string, SafetensorsTensorInfo> } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`${file}: header (bytes 8..${dataStart}) is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${file}: header is not a JSON object (got ${previewValue(json)})`);
  }
  let entryCount = 0;
  for (const k in json) {
    if (++entryCount > MAX_HEADER_ENTRIES) {
      throw new Error(`${file}: header lists more than ${MAX_HEADER_ENTRIES} entries (tensors and metadata); not a model file this reader accepts`);
    }
    void k;
  }
  const metadata: Record<string, string> = {};
  const infos = new Map<string, SafetensorsTensorInfo>();
  const dataLen = fileSize - dataStart;
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: __metadata__ is not an object`);
      let metaCount = 0;
      for (const k in raw) {
        if (++metaCount > MAX_HEADER_ENTRIES) throw new Error(`${file}: __metadata__ holds more than ${MAX_HEADER_ENTRIES} keys`);
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new Error(`${file}: __metadata__['${k.length > 200 ? `${k.slice(0, 200)}…` : k}'] is ${typeof v}, expected a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor ${name.length > 200 ? previewValue(name, 200) : `'${name}'`}`;
    if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isWeightDtype(dtype)) {
      throw new Error(`${where}: unknown dtype ${previewValue(dtype)} (supported: ${WEIGHT_DTYPES.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: shape ${previewValue(shape)} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new Error(`${where}: data_offsets ${previewValue(offsets)} is not [begin, end] with 0 <= begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    let expected: number;
    try {
      expected = numElements(shape as number[]) * DTYPE_BYTES[dtype];
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    if (end - begin !== expected) {
      throw new Error(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape ${previewValue(shape)} of ${dtype} needs ${expected}`,
      );
    }
    if (end > dataLen) {
      throw new Error(
        `${where}: data ends at file byte ${dataStart + end}, past the end of the ${fileSize}-byte file (truncated or lying header)`,
      );
    }
    infos.set(name, { name, dtype, shape: shape as number[], fileOffset: dataStart + begin, byteLength: end - begin });
    spans.push({ name, begin, end });
  }
  // The tensors must tile the byte buffer: sorted by begin, each starts where the previous ended.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev = '';
  for (const s of spans) {
    if (s.begin < cursor) {
      throw new Error(`${file}: tensors '${prev}' and '${s.name}' overlap at file byte ${dataStart + s.begin}`);
    }
    if (s.begin > cursor) {
      throw new Error(`${file}: ${s.begin - cursor} unclaimed bytes at file byte ${dataStart + cursor} before tensor '${s.name}'`);
    }
    cursor = s.end;
    prev = s.name;
  }
  if (cursor !== dataLen) {
    throw new Error(`${file}: ${dataLen - cursor} bytes after the last tensor at file byte ${dataStart + cursor} are claimed by no tensor`);
  }
  return { metadata, infos };
}

