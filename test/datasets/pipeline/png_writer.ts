/**
 * A minimal PNG writer for tests (PNG specification, ISO/IEC 15948): signature, IHDR, optional PLTE, one zlib IDAT
 * with filter 0 on every row, IEND. Independent of the decoder under test.
 */
import { deflateSync } from 'zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** What to write. `samples` are row-major, `channels` per pixel, values < 2^bitDepth. */
export interface PngSpec {
  width: number;
  height: number;
  /** 0 gray, 2 RGB, 3 palette, 6 RGBA. */
  colorType: 0 | 2 | 3 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>;
  /** Palette colours (colour type 3). */
  palette?: [number, number, number][];
}

/** Encode a PNG. */
export function encodePng(spec: PngSpec): Buffer {
  const channels = { 0: 1, 2: 3, 3: 1, 6: 4 }[spec.colorType];
  const bitsPerRow = spec.width * channels * spec.bitDepth;
  const rowBytes = Math.ceil(bitsPerRow / 8);
  const raw = new Uint8Array(spec.height * (rowBytes + 1));
  for (let y = 0; y < spec.height; y++) {
    const base = y * (rowBytes + 1) + 1; // filter byte 0
    for (let i = 0; i < spec.width * channels; i++) {
      const v = spec.samples[y * spec.width * channels + i];
      if (spec.bitDepth === 16) {
        raw[base + i * 2] = v >> 8;
        raw[base + i * 2 + 1] = v & 0xff;
      } else if (spec.bitDepth === 8) {
        raw[base + i] = v;
      } else {
        const bit = i * spec.bitDepth;
        raw[base + (bit >> 3)] |= v << (8 - spec.bitDepth - (bit & 7));
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(spec.width, 0);
  ihdr.writeUInt32BE(spec.height, 4);
  ihdr[8] = spec.bitDepth;
  ihdr[9] = spec.colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (spec.palette) parts.push(chunk('PLTE', Uint8Array.from(spec.palette.flat())));
  parts.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}
