/**
 * Label masks read as class indices: palette PNGs give their palette *indices* (not the colours), grayscale PNGs
 * (8- or 16-bit) their gray levels, RGB PNGs are mapped back to indices through a colormap (VOC's by default).
 *
 * Why not `decode.ts`: sharp (libvips) expands a palette PNG to its RGB colours, which loses the class index
 * whenever two indices share a colour or the palette is not VOC's. PIL's `Image.open(mask)` keeps mode `P` and
 * `np.array(img)` gives the indices, which is what torchvision's segmentation references and mmseg train on; this
 * module gives the same array. 8-bit non-interlaced masks (VOC's, most predictions) are inflated with Node's zlib and
 * unfiltered here; other layouts go to fast-png (pure JS), except the one it mis-decodes (Adam7-interlaced images of
 * 1, 2 or 4 bits per sample). Every read checks the header's pixel count against a limit first and every chunk's
 * CRC: this is the one label-PNG decoder, for training and for `eval-seg`.
 *
 * Reference: torchvision `references/segmentation/coco_utils.py`, `datasets/voc.py` (`VOCSegmentation` opens the
 * mask with PIL, mode P); the VOC devkit `VOClabelcolormap.m` (colormap); PNG specification (ISO/IEC 15948), IHDR.
 */
import { promises as fs } from 'fs';
import { decode as decodePng } from 'fast-png';
import { crc32, inflateSync } from 'zlib';
import { IGNORE_LABEL } from '../types';
import { DEFAULT_MAX_LABEL_PNG_PIXELS } from './png_limits';

export { DEFAULT_MAX_LABEL_PNG_PIXELS };

/** The raw samples of a single-channel PNG (palette indices or gray levels). */
export interface IndexImage {
  /** [H * W] row-major: palette index (palette PNG) or gray level (grayscale PNG), 0..2^depth-1. */
  data: Uint8Array | Uint16Array;
  /** H, pixels. */
  height: number;
  /** W, pixels. */
  width: number;
  /** Bits per sample in the file: 1, 2, 4, 8 or 16. */
  depth: number;
  /** `palette` for colour type 3, `gray` for colour type 0. */
  kind: 'palette' | 'gray';
  /** The palette's colours (palette PNGs only), index → [r, g, b]. */
  palette?: number[][];
}

/** An RGB(A) PNG's pixels, 8 bits per channel. */
export interface RgbMaskImage {
  /** [H * W * 3] uint8 RGB, row-major (alpha dropped). */
  data: Uint8Array;
  height: number;
  width: number;
}

/** The PNG header fields that decide how a file is read. */
export interface PngHeader {
  width: number;
  height: number;
  /** Bits per sample: 1, 2, 4, 8, 16. */
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: number;
  /** 0 none, 1 Adam7. */
  interlace: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];


/** The 4-byte chunk type at `at`, non-printable bytes written `\xNN` (a corrupt file stays one readable line). */
function chunkName(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3])
    .replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Files already warned about by `checkPngPixelLimit`. */
const warnedLarge = new Set<string>();

/**
 * Check a PNG's declared size before any pixel is inflated: refuse above `maxPixels`, warn (process warning
 * `DecompressionBombWarning`, as PIL; once per file) above half of it.
 * @throws naming the file, its size and the limit, and how to raise it.
 * Reference: Pillow `Image._decompression_bomb_check`.
 */
export function checkPngPixelLimit(hdr: PngHeader, file: string, maxPixels = DEFAULT_MAX_LABEL_PNG_PIXELS): void {
  const pixels = hdr.width * hdr.height;
  if (pixels > maxPixels) {
    throw new Error(`mask '${file}': ${hdr.width}x${hdr.height} (WxH) = ${pixels} pixels exceeds the limit of ${maxPixels} ` +
      'pixels (a possible decompression bomb; the limit is checked on the PNG header before decoding): raise the limit ' +
      '(eval-seg --max-mask-pixels, `maxPixels` of the mask options) if the file is genuine');
  }
  if (pixels > maxPixels / 2 && !warnedLarge.has(file)) {
    warnedLarge.add(file); // once per file, as Python's default warnings filter does per location
    process.emitWarning(`mask '${file}': ${hdr.width}x${hdr.height} (WxH) = ${pixels} pixels is more than half the limit ` +
      `of ${maxPixels} pixels (a possible decompression bomb)`, 'DecompressionBombWarning');
  }
}

/**
 * Read the IHDR chunk of a PNG held in memory, and check its size against `maxPixels` (`checkPngPixelLimit`).
 * @param maxPixels - refuse images of more pixels (default {@link DEFAULT_MAX_LABEL_PNG_PIXELS}).
 * @throws naming `file` when the bytes are not a PNG (JPEG masks are rejected here: lossy compression changes
 * indices), when the header's CRC is wrong, or it declares a zero width or height, or more than `maxPixels` pixels.
 */
export function readPngHeader(bytes: Uint8Array, file: string, maxPixels = DEFAULT_MAX_LABEL_PNG_PIXELS): PngHeader {
  if (bytes.length < 33 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new Error(`mask '${file}' is not a PNG file (label masks must be lossless PNGs with one index per pixel)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = chunkName(bytes, 12);
  if (type !== 'IHDR') throw new Error(`mask '${file}': first PNG chunk is '${type}', expected IHDR`);
  if (crc32(bytes.subarray(12, 29)) !== dv.getUint32(29)) {
    throw new Error(`mask '${file}': PNG chunk 'IHDR' at byte 8 has a wrong CRC (the file is corrupt)`);
  }
  const hdr = {
    width: dv.getUint32(16),
    height: dv.getUint32(20),
    bitDepth: bytes[24],
    colorType: bytes[25],
    interlace: bytes[28],
  };
  if (hdr.width === 0 || hdr.height === 0) {
    throw new Error(`mask '${file}': PNG header declares a ${hdr.width}x${hdr.height} (WxH) image (zero is invalid)`);
  }
  checkPngPixelLimit(hdr, file, maxPixels);
  return hdr;
}

/** Unpack rows of `depth`-bit samples (depth 1, 2, 4; rows padded to whole bytes) into one byte per sample. */
function unpackSubByte(packed: Uint8Array, height: number, width: number, depth: number): Uint8Array {
  const out = new Uint8Array(height * width);
  const bytesPerRow = Math.ceil((width * depth) / 8);
  const perByte = 8 / depth;
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const row = y * bytesPerRow;
    for (let x = 0; x < width; x++) {
      const byte = packed[row + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shift) & mask;
    }
  }
  return out;
}

/**
 * The chunks of a PNG after the signature, up to IEND, each checked: inside the file, CRC-32 of type and data right
 * (PIL checks every chunk's CRC: a flipped byte is an error, not different class indices).
 * @returns `{type, data}` per chunk; `data` views `bytes`.
 * @throws naming the file and the chunk's byte offset when a chunk runs past the end or its CRC is wrong.
 * Reference: PNG specification (ISO/IEC 15948) section 5.3 (chunk layout, CRC).
 */
export function pngChunks(bytes: Uint8Array, file: string): { type: string; data: Uint8Array }[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { type: string; data: Uint8Array }[] = [];
  let pos = 8;
  while (pos + 8 <= bytes.length) {
    const len = dv.getUint32(pos);
    const type = chunkName(bytes, pos + 4);
    if (pos + 12 + len > bytes.length) throw new Error(`mask '${file}': PNG chunk '${type}' at byte ${pos} runs past the end of the file`);
    if (crc32(bytes.subarray(pos + 4, pos + 8 + len)) !== dv.getUint32(pos + 8 + len)) {
      throw new Error(`mask '${file}': PNG chunk '${type}' at byte ${pos} has a wrong CRC (the file is corrupt)`);
    }
    out.push({ type, data: bytes.subarray(pos + 8, pos + 8 + len) });
    if (type === 'IEND') break;
    pos += 12 + len;
  }
  return out;
}

function decodeOrThrow(bytes: Uint8Array, file: string): ReturnType<typeof decodePng> {
  pngChunks(bytes, file);
  try {
    return decodePng(bytes);
  } catch (e) {
    throw new Error(`mask '${file}': cannot decode PNG (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * Decode the most common label-PNG layout (8-bit, palette or grayscale, not interlaced) directly: inflate the IDAT
 * stream with Node's zlib and undo the PNG row filters (None, Sub, Up, Average, Paeth with 1 byte per pixel) in one
 * pass. VOC masks and most predictions have this layout; it decodes several times faster than fast-png.
 * @returns `[H * W]` samples and the palette's colours (palette PNGs).
 * @throws naming the file for a corrupt chunk (CRC), stream or filter type.
 * Reference: PNG specification (ISO/IEC 15948) sections 9 (filtering) and 11 (chunks).
 */
function decodeIndex8(bytes: Uint8Array, file: string, hdr: PngHeader): { data: Uint8Array; palette?: number[][] } {
  const { width, height } = hdr;
  const idat: Uint8Array[] = [];
  let palette: number[][] | undefined;
  for (const chunk of pngChunks(bytes, file)) {
    if (chunk.type === 'IDAT') idat.push(chunk.data);
    else if (chunk.type === 'PLTE') {
      palette = [];
      for (let i = 0; i + 2 < chunk.data.length; i += 3) palette.push([chunk.data[i], chunk.data[i + 1], chunk.data[i + 2]]);
    }
  }
  let raw: Buffer;
  try {
    // Bounded: a stream inflating past the declared size is refused, not allocated.
    raw = inflateSync(idat.length === 1 ? idat[0] : Buffer.concat(idat), { maxOutputLength: (width + 1) * height + 65536 });
  } catch (e) {
    throw new Error(`mask '${file}': cannot decode PNG (${e instanceof Error ? e.message : String(e)})`);
  }
  const stride = width + 1;
  if (raw.length < stride * height) throw new Error(`mask '${file}': image data holds ${raw.length} bytes, expected ${stride * height}`);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * stride];
    const src = y * stride + 1;
    const o = y * width;
    const up = o - width;
    switch (f) {
      case 0:
        out.set(raw.subarray(src, src + width), o);
        break;
      case 1: {
        let left = 0;
        for (let x = 0; x < width; x++) left = out[o + x] = (raw[src + x] + left) & 255;
        break;
      }
      case 2:
        if (y === 0) out.set(raw.subarray(src, src + width), o);
        else for (let x = 0; x < width; x++) out[o + x] = (raw[src + x] + out[up + x]) & 255;
        break;
      case 3:
        for (let x = 0; x < width; x++) {
          const a = x > 0 ? out[o + x - 1] : 0;
          const b = y > 0 ? out[up + x] : 0;
          out[o + x] = (raw[src + x] + ((a + b) >> 1)) & 255;
        }
        break;
      case 4:
        for (let x = 0; x < width; x++) {
          const a = x > 0 ? out[o + x - 1] : 0;
          const b = y > 0 ? out[up + x] : 0;
          const c = x > 0 && y > 0 ? out[up + x - 1] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          out[o + x] = (raw[src + x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
        }
        break;
      default:
        throw new Error(`mask '${file}': row ${y} has PNG filter type ${f} (valid: 0..4)`);
    }
  }
  return { data: out, palette: hdr.colorType === 3 ? palette : undefined };
}

/**
 * Decode a single-channel PNG to its raw samples: palette indices for a palette PNG (whatever its palette
 * colours are), gray levels for a grayscale PNG (8 or 16 bits, 1/2/4-bit unpacked).
 * @param bytes - the file's bytes.
 * @param file - path, for error messages.
 * @returns `[H * W]` samples, `Uint8Array` (depth <= 8) or `Uint16Array` (depth 16); new arrays, caller owns.
 * @throws when the file is not a PNG, is RGB/RGBA/gray+alpha (not one index per pixel), or is an Adam7-interlaced
 * image of fewer than 8 bits per sample (not supported).
 * Reference: PIL `Image.open` of a mode `P` / `L` / `I;16` PNG followed by `np.array`.
 */
export function decodeIndexPng(bytes: Uint8Array, file: string, maxPixels = DEFAULT_MAX_LABEL_PNG_PIXELS): IndexImage {
  const hdr = readPngHeader(bytes, file, maxPixels);
  if (hdr.colorType !== 0 && hdr.colorType !== 3) {
    const names: Record<number, string> = { 2: 'RGB', 4: 'gray+alpha', 6: 'RGBA' };
    throw new Error(`mask '${file}' is a ${names[hdr.colorType] ?? `colour type ${hdr.colorType}`} PNG, expected ` +
      'a palette or grayscale PNG holding one class index per pixel (convert colour masks to class indices first; training reads VOC colour masks with data.maskEncoding "rgb")');
  }
  if (hdr.interlace === 1 && hdr.bitDepth < 8) {
    throw new Error(`mask '${file}': Adam7-interlaced PNGs with ${hdr.bitDepth}-bit samples are not supported; ` +
      're-save it without interlacing');
  }
  if (hdr.bitDepth === 8 && hdr.interlace === 0) {
    const fast = decodeIndex8(bytes, file, hdr);
    return { data: fast.data, height: hdr.height, width: hdr.width, depth: 8, kind: hdr.colorType === 3 ? 'palette' : 'gray', palette: fast.palette };
  }
  const png = decodeOrThrow(bytes, file);
  const { width, height } = png;
  let data: Uint8Array | Uint16Array;
  if (png.depth < 8) {
    data = unpackSubByte(png.data as Uint8Array, height, width, png.depth);
  } else if (png.depth === 16) {
    data = png.data instanceof Uint16Array ? png.data : new Uint16Array(png.data);
  } else {
    const d = png.data;
    data = d instanceof Uint8Array ? d : new Uint8Array(d.buffer, d.byteOffset, d.length);
  }
  if (data.length !== width * height) {
    throw new Error(`mask '${file}': decoded ${data.length} samples for ${height}x${width} (HxW)`);
  }
  return {
    data,
    height,
    width,
    depth: png.depth,
    kind: hdr.colorType === 3 ? 'palette' : 'gray',
    palette: png.palette ? png.palette.map((c) => [...c]) : undefined,
  };
}

/**
 * Decode an RGB or RGBA PNG (8 or 16 bits per channel; 16-bit values are reduced by `>> 8`) to RGB bytes; palette
 * PNGs are expanded to their colours. For colour-coded label masks.
 * @throws when the file is not a PNG or is grayscale.
 */
export function decodeRgbPng(bytes: Uint8Array, file: string, maxPixels = DEFAULT_MAX_LABEL_PNG_PIXELS): RgbMaskImage {
  const hdr = readPngHeader(bytes, file, maxPixels);
  if (hdr.colorType === 0 || hdr.colorType === 4) {
    throw new Error(`mask '${file}' is a grayscale PNG, expected an RGB colour mask`);
  }
  if (hdr.colorType === 3) {
    const idx = decodeIndexPng(bytes, file, maxPixels);
    const out = new Uint8Array(idx.height * idx.width * 3);
    const pal = idx.palette ?? [];
    for (let i = 0; i < idx.data.length; i++) {
      const c = pal[idx.data[i]];
      if (!c) throw new Error(`mask '${file}': pixel ${i} uses palette index ${idx.data[i]} beyond the palette (${pal.length})`);
      out[i * 3] = c[0];
      out[i * 3 + 1] = c[1];
      out[i * 3 + 2] = c[2];
    }
    return { data: out, height: idx.height, width: idx.width };
  }
  const png = decodeOrThrow(bytes, file);
  const n = png.width * png.height;
  const ch = png.channels;
  const shift = png.depth === 16 ? 8 : 0;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = png.data[i * ch] >> shift;
    out[i * 3 + 1] = png.data[i * ch + 1] >> shift;
    out[i * 3 + 2] = png.data[i * ch + 2] >> shift;
  }
  return { data: out, height: png.height, width: png.width };
}

/**
 * The Pascal VOC colormap: colour of class index i (0..255), bits of i spread over the high bits of R, G, B.
 * Index 255 (void) is (224, 224, 192).
 * @returns [256 * 3] uint8, `[r0, g0, b0, r1, ...]`.
 * Reference: VOC devkit `VOClabelcolormap.m` (bitget loop), as in torchvision / mmseg palettes.
 */
export function vocColormap(): Uint8Array {
  const cmap = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    cmap[i * 3] = r;
    cmap[i * 3 + 1] = g;
    cmap[i * 3 + 2] = b;
  }
  return cmap;
}

/**
 * How a label mask file encodes classes.
 * - `index`: a palette or grayscale PNG whose samples are the classes (VOC `SegmentationClass`, SBD
 *   `SegmentationClassAug`, CamVid labels).
 * - `rgb`: an RGB PNG whose colours are looked up in `colormap` (class i has colour `colormap[3i..3i+2]`); a colour
 *   outside it is an error naming the file, the pixel and the colour.
 * - `auto`: `index` for palette/grayscale PNGs, `rgb` with the VOC colormap for RGB PNGs.
 */
export type MaskEncoding =
  | { kind: 'index' }
  | { kind: 'rgb'; colormap?: Uint8Array; numColors?: number }
  | { kind: 'auto' };

/** Options of `readLabelMask`. */
export interface LabelMaskOptions {
  /** Default `{ kind: 'auto' }`. */
  encoding?: MaskEncoding;
  /**
   * Value in the file that marks pixels to ignore; it becomes `IGNORE_LABEL` (255) in the result. Default 255
   * (VOC void). CamVid (SegNet) uses 11.
   */
  ignoreIndex?: number;
  /**
   * Lookup table file value → class (0..254) or 255 (ignore), applied after `ignoreIndex`; values beyond the table
   * are an error. For datasets whose stored ids are not contiguous (Cityscapes `labelIds` → `trainIds`).
   */
  mapping?: ArrayLike<number>;
  /**
   * Number of classes K: a value (after `ignoreIndex` and `mapping`) outside 0..K-1 that is not 255 is an error
   * naming the file and the value. Default: not checked.
   */
  numClasses?: number;
  /**
   * Refuse masks of more pixels, read from the PNG header before decoding (decompression bombs); warn above half.
   * Default {@link DEFAULT_MAX_LABEL_PNG_PIXELS} (PIL's rule).
   */
  maxPixels?: number;
}

/** A label mask in the project's convention (see `SegmentationTarget`). */
export interface LabelMask {
  /** [H * W] uint8 row-major, class 0..K-1 or 255 = ignore. */
  mask: Uint8Array;
  height: number;
  width: number;
  /** How the file was read. */
  source: 'palette' | 'gray' | 'rgb';
}

function lookupColors(rgb: RgbMaskImage, cmap: Uint8Array, numColors: number, file: string): Uint8Array {
  const table = new Map<number, number>();
  // The VOC colormap gives void (255) its own colour; earlier indices win on duplicates.
  for (let i = numColors - 1; i >= 0; i--) table.set((cmap[i * 3] << 16) | (cmap[i * 3 + 1] << 8) | cmap[i * 3 + 2], i);
  const n = rgb.width * rgb.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const key = (rgb.data[i * 3] << 16) | (rgb.data[i * 3 + 1] << 8) | rgb.data[i * 3 + 2];
    const v = table.get(key);
    if (v === undefined) {
      const x = i % rgb.width;
      const y = Math.floor(i / rgb.width);
      throw new Error(`mask '${file}': pixel (x=${x}, y=${y}) has colour (${rgb.data[i * 3]}, ${rgb.data[i * 3 + 1]}, ` +
        `${rgb.data[i * 3 + 2]}), which is not in the colormap`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Turn a decoded mask file into class indices with 255 = ignore (see `LabelMaskOptions`).
 * @param bytes - the PNG file's bytes.
 * @param file - path, for error messages.
 * @returns a new `[H * W]` uint8 mask.
 * @throws naming the file: not a PNG, more pixels than `maxPixels`, wrong colour type for the encoding, colour outside
 * the colormap, a value that does not fit 0..255 after mapping, or a class >= `numClasses` (other than 255).
 */
export function labelMaskFromPng(bytes: Uint8Array, file: string, opts: LabelMaskOptions = {}): LabelMask {
  const encoding = opts.encoding ?? { kind: 'auto' };
  const ignoreIndex = opts.ignoreIndex ?? IGNORE_LABEL;
  const hdr = readPngHeader(bytes, file, opts.maxPixels);
  const isIndexFile = hdr.colorType === 0 || hdr.colorType === 3;
  let kind: 'index' | 'rgb';
  switch (encoding.kind) {
    case 'auto':
      kind = isIndexFile ? 'index' : 'rgb';
      break;
    case 'index':
    case 'rgb':
      kind = encoding.kind;
      break;
    default: {
      const never: never = encoding;
      throw new Error(`unknown mask encoding ${JSON.stringify(never)}`);
    }
  }
  let raw: Uint8Array | Uint16Array;
  let height: number;
  let width: number;
  let source: LabelMask['source'];
  if (kind === 'index') {
    const idx = decodeIndexPng(bytes, file, opts.maxPixels);
    raw = idx.data;
    height = idx.height;
    width = idx.width;
    source = idx.kind;
  } else {
    const rgb = decodeRgbPng(bytes, file, opts.maxPixels);
    const cmap = (encoding.kind === 'rgb' && encoding.colormap) || vocColormap();
    const numColors = (encoding.kind === 'rgb' && encoding.numColors) || cmap.length / 3;
    raw = lookupColors(rgb, cmap, numColors, file);
    height = rgb.height;
    width = rgb.width;
    source = 'rgb';
  }
  const mask = new Uint8Array(raw.length);
  const { mapping, numClasses } = opts;
  for (let i = 0; i < raw.length; i++) {
    let v = raw[i];
    if (v === ignoreIndex) {
      mask[i] = IGNORE_LABEL;
      continue;
    }
    if (mapping) {
      if (v >= mapping.length) {
        throw new Error(`mask '${file}': value ${v} at pixel ${i} is beyond the mapping table (${mapping.length} entries)`);
      }
      v = mapping[v];
    }
    if (!(v >= 0 && v <= 255 && Number.isInteger(v))) {
      throw new Error(`mask '${file}': value ${v} at pixel (x=${i % width}, y=${Math.floor(i / width)}) does not fit a ` +
        'uint8 class index; give a mapping');
    }
    if (numClasses !== undefined && v !== IGNORE_LABEL && v >= numClasses) {
      throw new Error(`mask '${file}': class ${v} at pixel (x=${i % width}, y=${Math.floor(i / width)}) is not in ` +
        `0..${numClasses - 1} nor ${IGNORE_LABEL} (ignore)`);
    }
    mask[i] = v;
  }
  return { mask, height, width, source };
}

/**
 * Read a label mask file as class indices (`labelMaskFromPng` on the file's bytes).
 * @throws naming the file when it cannot be read, and the errors of `labelMaskFromPng`.
 */
export async function readLabelMask(file: string, opts: LabelMaskOptions = {}): Promise<LabelMask> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new Error(`cannot read mask '${file}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return labelMaskFromPng(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), file, opts);
}
