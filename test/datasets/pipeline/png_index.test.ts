import { expect } from 'chai';
import * as zlib from 'zlib';
import { DEFAULT_MAX_LABEL_PNG_PIXELS, decodeIndexPng, labelMaskFromPng, vocColormap } from '../../../datasets/pipeline/png_index';
import { decodeLabelPng } from '../../../datasets/voc/miou_folders';
import { encodePng } from './png_writer';

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

describe('vocColormap', () => {
  it('bit-interleaved colours of the VOC devkit', () => {
    const c = vocColormap();
    const rgb = (i: number): number[] => [c[i * 3], c[i * 3 + 1], c[i * 3 + 2]];
    // i = b2 b1 b0: R gets bit 0 at bit 7, G bit 1, B bit 2; the next 3 bits go to bit 6 of each channel.
    expect(rgb(0)).to.deep.equal([0, 0, 0]);
    expect(rgb(1)).to.deep.equal([128, 0, 0]);
    expect(rgb(2)).to.deep.equal([0, 128, 0]);
    expect(rgb(3)).to.deep.equal([128, 128, 0]);
    // 15 = 0b001111: first triple 111 → (128,128,128), second 001 → R += 64.
    expect(rgb(15)).to.deep.equal([192, 128, 128]);
    // 255 = 0b11111111: triples 111, 111, 11(0) → R, G: 128+64+32 = 224; B: 128+64 = 192.
    expect(rgb(255)).to.deep.equal([224, 224, 192]);
  });
});

describe('labelMaskFromPng', () => {
  it('palette PNG with a reordered palette → the indices, not the colours', () => {
    // Index 0 is painted red and index 1 black: a colour-based reader would swap classes 0 and 1.
    const palette: [number, number, number][] = [[128, 0, 0], [0, 0, 0], [0, 128, 0]];
    for (let i = 3; i < 256; i++) palette.push([i, i, i]);
    const samples = [0, 1, 2, 255, 1, 0];
    const png = encodePng({ width: 3, height: 2, colorType: 3, bitDepth: 8, samples, palette });
    const m = labelMaskFromPng(u8(png), 'p.png');
    expect(m.source).to.equal('palette');
    expect([m.height, m.width]).to.deep.equal([2, 3]);
    expect(Array.from(m.mask)).to.deep.equal(samples);
  });

  it('4-bit palette PNG, odd width (rows padded to bytes) → unpacked indices', () => {
    const samples = [3, 0, 15, 1, 2, 4];
    const palette = Array.from({ length: 16 }, (_, i) => [i, 0, 0] as [number, number, number]);
    const png = encodePng({ width: 3, height: 2, colorType: 3, bitDepth: 4, samples, palette });
    expect(Array.from(decodeIndexPng(u8(png), 'p4.png').data)).to.deep.equal(samples);
  });

  it('16-bit grayscale PNG, ignoreIndex 11 → 255', () => {
    const png = encodePng({ width: 3, height: 2, colorType: 0, bitDepth: 16, samples: [0, 1, 2, 255, 11, 7] });
    const idx = decodeIndexPng(u8(png), 'g16.png');
    expect(idx.depth).to.equal(16);
    expect(idx.data).to.be.instanceOf(Uint16Array);
    const m = labelMaskFromPng(u8(png), 'g16.png', { ignoreIndex: 11 });
    expect(m.source).to.equal('gray');
    expect(Array.from(m.mask)).to.deep.equal([0, 1, 2, 255, 255, 7]);
  });

  it('16-bit value above 255 without mapping → error naming the file and pixel', () => {
    const png = encodePng({ width: 2, height: 1, colorType: 0, bitDepth: 16, samples: [3, 300] });
    expect(() => labelMaskFromPng(u8(png), 'big.png')).to.throw(/big\.png.*value 300 at pixel \(x=1, y=0\)/);
  });

  it('mapping table: stored ids → train ids', () => {
    const png = encodePng({ width: 4, height: 1, colorType: 0, bitDepth: 8, samples: [7, 8, 0, 26] });
    const mapping = new Array(34).fill(255);
    mapping[7] = 0;
    mapping[8] = 1;
    mapping[26] = 13;
    expect(Array.from(labelMaskFromPng(u8(png), 'c.png', { mapping }).mask)).to.deep.equal([0, 1, 255, 13]);
  });

  it('RGB colour mask through the VOC colormap; a colour outside it is an error naming the pixel', () => {
    const samples = [0, 0, 0, 128, 0, 0, 192, 128, 128, 224, 224, 192];
    const png = encodePng({ width: 2, height: 2, colorType: 2, bitDepth: 8, samples });
    const m = labelMaskFromPng(u8(png), 'rgb.png');
    expect(m.source).to.equal('rgb');
    expect(Array.from(m.mask)).to.deep.equal([0, 1, 15, 255]);
    const bad = encodePng({ width: 2, height: 1, colorType: 2, bitDepth: 8, samples: [0, 0, 0, 1, 2, 3] });
    expect(() => labelMaskFromPng(u8(bad), 'bad.png')).to.throw(/bad\.png.*\(x=1, y=0\).*\(1, 2, 3\).*not in the colormap/);
  });

  it('class >= numClasses is an error; 255 is allowed', () => {
    const png = encodePng({ width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [20, 255, 21] });
    expect(() => labelMaskFromPng(u8(png), 'k.png', { numClasses: 21 })).to.throw(/k\.png.*class 21 at pixel \(x=2, y=0\)/);
  });

  it('index encoding on an RGBA PNG, and a JPEG, are rejected', () => {
    const rgba = encodePng({ width: 1, height: 1, colorType: 6, bitDepth: 8, samples: [1, 2, 3, 4] });
    expect(() => labelMaskFromPng(u8(rgba), 'a.png', { encoding: { kind: 'index' } })).to.throw(/a\.png.*RGBA PNG/);
    const jpegStart = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, ...new Array(40).fill(0)]);
    expect(() => labelMaskFromPng(jpegStart, 'm.jpg')).to.throw(/m\.jpg.*not a PNG/);
  });
});

/**
 * A PNG whose header declares `width` x `height` 8-bit grayscale pixels, with a tiny IDAT (one deflated empty
 * stream): what a decompression bomb's header looks like. Only the header is ever read.
 */
function bombPng(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return u8(Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(0))), chunk('IEND', Buffer.alloc(0))]));
}

describe('label PNG pixel limit (decompression bombs)', () => {
  it('46000x46000 (2.1e9 pixels) is refused from the header, before decoding, by every label-PNG reader', () => {
    const bomb = bombPng(46000, 46000);
    const msg = "mask 'bomb.png': 46000x46000 (WxH) = 2116000000 pixels exceeds the limit of 178956970 pixels (a possible " +
      'decompression bomb; the limit is checked on the PNG header before decoding): raise the limit (eval-seg ' +
      '--max-mask-pixels, `maxPixels` of the mask options) if the file is genuine';
    expect(DEFAULT_MAX_LABEL_PNG_PIXELS).to.equal(2 * 89478485);
    expect(() => labelMaskFromPng(bomb, 'bomb.png')).to.throw(msg); // training (segmentation presets)
    expect(() => decodeLabelPng(bomb, 'bomb.png')).to.throw(msg); // eval-seg
    expect(() => decodeIndexPng(bomb, 'bomb.png')).to.throw(msg);
  });

  it('configurable: refused above maxPixels, a DecompressionBombWarning above half of it, silent below', async () => {
    const png = u8(encodePng({ width: 3, height: 3, colorType: 0, bitDepth: 8, samples: [0, 1, 2, 0, 1, 2, 0, 1, 2] }));
    expect(() => labelMaskFromPng(png, 'p.png', { maxPixels: 8 })).to.throw(/^mask 'p\.png': 3x3 \(WxH\) = 9 pixels exceeds the limit of 8 pixels/);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      expect(Array.from(labelMaskFromPng(png, 'p.png', { maxPixels: 17 }).mask)).to.deep.equal([0, 1, 2, 0, 1, 2, 0, 1, 2]);
      labelMaskFromPng(png, 'p.png', { maxPixels: 18 });
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).to.deep.equal([
      "DecompressionBombWarning: mask 'p.png': 3x3 (WxH) = 9 pixels is more than half the limit of 17 pixels (a possible decompression bomb)",
    ]);
  });

  it('a header declaring zero width is an error naming the file', () => {
    expect(() => labelMaskFromPng(bombPng(0, 5), 'z.png')).to.throw("mask 'z.png': PNG header declares a 0x5 (WxH) image (zero is invalid)");
  });
});

describe('label PNG chunk CRCs (as PIL checks them)', () => {
  // 3x2 grayscale; the IDAT starts after the signature (8) and IHDR (25 bytes): its data at 33 + 8 = 41.
  const png = () => u8(encodePng({ width: 3, height: 2, colorType: 0, bitDepth: 8, samples: [0, 1, 2, 3, 4, 5] }));

  it('one flipped byte in IDAT: an error naming the file and the chunk, on both decode paths', () => {
    const bad = png();
    expect(String.fromCharCode(...bad.subarray(37, 41))).to.equal('IDAT');
    bad[42] ^= 1;
    expect(() => decodeLabelPng(bad, 'c.png')).to.throw("mask 'c.png': PNG chunk 'IDAT' at byte 33 has a wrong CRC (the file is corrupt)");
    expect(() => labelMaskFromPng(bad, 'c.png')).to.throw("mask 'c.png': PNG chunk 'IDAT' at byte 33 has a wrong CRC (the file is corrupt)");
  });

  it('a flipped byte in IHDR is a corrupt header, checked before the size limit', () => {
    const bad = png();
    bad[17] ^= 0x40; // width 3 → 0x40000003
    expect(() => labelMaskFromPng(bad, 'h.png')).to.throw("mask 'h.png': PNG chunk 'IHDR' at byte 8 has a wrong CRC (the file is corrupt)");
  });
});
