import { expect } from 'chai';
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { decodeImage, decodeRgb, ImageDecodeError, readImageFile } from '../../../datasets/pipeline/decode';
import { loadDetectionSample, runDetectionImageJob } from '../../../datasets/pipeline/detection_presets';
import { makeTempDir, patternImage, removeDir, writePng } from './make_images';

/** Max |a - b| between a decoded pixel and an expected colour. */
function colourDiff(data: Uint8Array, i: number, rgb: number[]): number {
  return Math.max(...rgb.map((v, c) => Math.abs(data[i * 3 + c] - v)));
}

async function expectDecodeError(file: string, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    await decodeImage(file);
  } catch (e) {
    err = e;
  }
  expect(err, `decoding ${file} should fail`).to.be.instanceOf(ImageDecodeError);
  const msg = (err as Error).message;
  expect(msg).to.include(file);
  expect(msg).to.match(pattern);
}

describe('decodeImage', () => {
  let dir: string;
  before(async () => { dir = await makeTempDir('decode'); });
  after(async () => { await removeDir(dir); });

  it('EXIF orientation 6 JPEG (16x8 stored: left red, right blue) → 8x16 (WxH), red on top', async () => {
    // Orientation 6 = rotate 90° clockwise to display: stored (x, y) goes to displayed (H-1-y, x), so the stored
    // left half (x < 8, red) becomes the displayed top half (y' = x < 8). Blocks are 8x8-aligned, so JPEG keeps
    // them flat up to a few levels.
    const W = 16, H = 8;
    const px = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.set(x < 8 ? [255, 0, 0] : [0, 0, 255], (y * W + x) * 3);
    const file = path.join(dir, 'orient6.jpg');
    await sharp(px, { raw: { width: W, height: H, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .withMetadata({ orientation: 6 }).toFile(file);
    const enc = await readImageFile(file);
    expect([enc.height, enc.width]).to.deep.equal([16, 8]);
    const { image, meta } = await decodeImage(enc);
    expect([image.height, image.width]).to.deep.equal([16, 8]);
    expect([meta.originalHeight, meta.originalWidth]).to.deep.equal([16, 8]);
    for (const [y, rgb] of [[1, [255, 0, 0]], [6, [255, 0, 0]], [9, [0, 0, 255]], [14, [0, 0, 255]]] as const) {
      for (let x = 1; x < 7; x++) expect(colourDiff(image.data, y * 8 + x, [...rgb]), `(${x},${y})`).to.be.at.most(8);
    }
  });

  it('EXIF orientation 6: crop is taken in the oriented frame', async () => {
    const file = path.join(dir, 'orient6.jpg'); // from the test above: top half red, bottom half blue, 8x16
    const { image, meta } = await decodeImage(file, { crop: { left: 2, top: 10, width: 4, height: 4 } });
    expect([image.height, image.width]).to.deep.equal([4, 4]);
    for (let i = 0; i < 16; i++) expect(colourDiff(image.data, i, [0, 0, 255])).to.be.at.most(8);
    expect(meta.cropXyxy).to.deep.equal([2, 10, 6, 14]);
  });

  describe('EXIF orientation that swaps sides, annotation giving the stored size', () => {
    // orient6.jpg from the first test: stored 16x8 (WxH), left half red, right half blue; oriented 8x16.
    const checkStored = (data: Uint8Array) => {
      for (const [x, rgb] of [[2, [255, 0, 0]], [13, [0, 0, 255]]] as const) expect(colourDiff(data, 4 * 16 + x, [...rgb])).to.be.at.most(8);
    };

    it('decodeRgb follows the annotation: stored pixels, not rotated (as PIL / torchvision read_image)', async () => {
      const file = path.join(dir, 'orient6.jpg');
      const stored = await decodeRgb(file, { height: 8, width: 16 });
      expect([stored.height, stored.width, stored.exifOrientationIgnored]).to.deep.equal([8, 16, 6]);
      checkStored(stored.data);
      const oriented = await decodeRgb(file, { height: 16, width: 8 });
      expect([oriented.height, oriented.width, oriented.exifOrientationIgnored]).to.deep.equal([16, 8, undefined]);
    });

    it('the training decode (runDetectionImageJob) takes the stored pixels too, and warns once per dataset', async () => {
      const file = path.join(dir, 'orient6.jpg');
      const job = { file, imageId: 3, source: `${dir}/train.json`, expectedHeight: 8, expectedWidth: 16, height: 8, width: 16,
        flip: false, jitter: null, kernel: 'bilinear' as const, resample: 'pillow' as const, mean: [0, 0, 0] as const, std: [1, 1, 1] as const };
      const warned: string[] = [];
      const warn = console.warn;
      console.warn = (msg: string) => void warned.push(msg);
      let px: Float32Array;
      try {
        px = await runDetectionImageJob(job);
        await runDetectionImageJob({ ...job, imageId: 4 });
      } finally {
        console.warn = warn;
      }
      expect(px.length).to.equal(8 * 16 * 3);
      // Same size in and out: pixels / 255; (x=2, y=4) red, (x=13, y=4) blue, within JPEG's few levels.
      const at = (x: number, c: number) => px[(4 * 16 + x) * 3 + c] * 255;
      expect([at(2, 0), at(13, 2)].every((v) => v > 247)).to.equal(true);
      expect([at(2, 2), at(13, 0)].every((v) => v < 8)).to.equal(true);
      expect(warned).to.have.length(1);
      expect(warned[0]).to.match(/train\.json': image '.*orient6\.jpg' has EXIF orientation 6/);
    });

    it('loadDetectionSample decodes the stored pixels and warns once per dataset', async () => {
      const file = path.join(dir, 'orient6.jpg');
      const record = { file, imageId: 1, height: 8, width: 16, source: `${dir}/instances.json`,
        target: { boxes: new Float32Array(0), labels: new Int32Array(0) } };
      const warned: string[] = [];
      const warn = console.warn;
      console.warn = (msg: string) => void warned.push(msg);
      try {
        const a = await loadDetectionSample(record);
        await loadDetectionSample({ ...record, imageId: 2 });
        expect([a.image.height, a.image.width]).to.deep.equal([8, 16]);
        checkStored(a.image.data);
      } finally {
        console.warn = warn;
      }
      expect(warned).to.deep.equal([
        `warning: '${dir}/instances.json': image '${file}' has EXIF orientation 6 (width and height swapped), but the ` +
          'annotation gives the stored size: the annotation is followed and the image used as stored, not rotated, as PIL ' +
          "and torchvision's read_image read it (said once for this dataset; `resvision check-data` counts such images)",
      ]);
    });
  });

  it('grayscale PNG (1 channel, values v) → R = G = B = v exactly', async () => {
    const g = Uint8Array.from([0, 17, 128, 255, 3, 250]);
    const file = path.join(dir, 'gray.png');
    await sharp(g, { raw: { width: 3, height: 2, channels: 1 } }).toColourspace('b-w').png().toFile(file);
    expect((await sharp(file).metadata()).channels).to.equal(1);
    const { image } = await decodeImage(file);
    expect(Array.from(image.data)).to.deep.equal(Array.from(g).flatMap((v) => [v, v, v]));
  });

  it('RGBA PNG → alpha dropped, RGB kept exactly (PIL convert("RGB"))', async () => {
    const rgba = Uint8Array.from([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 7]);
    const file = path.join(dir, 'rgba.png');
    await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toFile(file);
    const { image } = await decodeImage(file);
    expect(Array.from(image.data)).to.deep.equal([10, 20, 30, 40, 50, 60, 70, 80, 90, 1, 2, 3]);
  });

  it('16-bit RGB PNG with values 257 v → v exactly', async () => {
    const v8 = patternImage(3, 4);
    const v16 = Uint16Array.from(v8, (v) => v * 257);
    const file = path.join(dir, 'rgb16.png');
    await sharp(v16, { raw: { width: 4, height: 3, channels: 3 } }).toColourspace('rgb16').png().toFile(file);
    expect((await sharp(file).metadata()).depth).to.equal('ushort');
    const { image } = await decodeImage(file);
    expect(Array.from(image.data)).to.deep.equal(Array.from(v8));
  });

  it('palette PNG (4 colours) → its colours exactly', async () => {
    const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
    const px = new Uint8Array(8 * 8 * 3);
    for (let i = 0; i < 64; i++) px.set(colours[Math.floor(i / 16)], i * 3);
    const file = path.join(dir, 'palette.png');
    await sharp(px, { raw: { width: 8, height: 8, channels: 3 } }).png({ palette: true, colours: 4, dither: 0 }).toFile(file);
    expect((await sharp(file).metadata()).isPalette).to.equal(true);
    const { image } = await decodeImage(file);
    expect(Array.from(image.data)).to.deep.equal(Array.from(px));
  });

  it('CMYK JPEG → 3-channel sRGB: paper white stays white, a red stays red-dominant', async () => {
    // libvips converts CMYK with ICC profiles (sRGB → CMYK → sRGB is not lossless: (200, 60, 40) comes back as
    // (200, 48, 13), where PIL's profile-less convert("RGB") gives (215, 26, 9)). What is exact: C=M=Y=K=0 is white.
    const white = path.join(dir, 'cmyk_white.jpg');
    const red = path.join(dir, 'cmyk_red.jpg');
    for (const [file, rgb] of [[white, { r: 255, g: 255, b: 255 }], [red, { r: 200, g: 60, b: 40 }]] as const) {
      await sharp({ create: { width: 16, height: 16, channels: 3, background: rgb } }).toColourspace('cmyk')
        .jpeg({ quality: 100 }).toFile(file);
      const md = await sharp(file).metadata();
      expect([md.space, md.channels]).to.deep.equal(['cmyk', 4]);
    }
    const w = await decodeImage(white);
    expect(w.image.data.length).to.equal(16 * 16 * 3);
    expect(Math.min(...w.image.data)).to.be.at.least(253);
    const r = await decodeImage(red);
    for (let i = 0; i < 256; i += 37) {
      const [R, G, B] = r.image.data.subarray(i * 3, i * 3 + 3);
      expect(R - Math.max(G, B), `pixel ${i}`).to.be.at.least(120);
    }
  });

  it('GIF → first frame, palette colours exactly', async () => {
    const px = new Uint8Array(4 * 2 * 3);
    for (let i = 0; i < 8; i++) px.set(i < 4 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const file = path.join(dir, 'two.gif');
    await sharp(px, { raw: { width: 4, height: 2, channels: 3 } }).gif().toFile(file);
    const { image } = await decodeImage(file);
    expect(Array.from(image.data)).to.deep.equal(Array.from(px));
  });

  it('truncated JPEG → ImageDecodeError naming the file and the premature end', async () => {
    const full = await sharp(patternImage(64, 64), { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
    const file = path.join(dir, 'truncated.jpg');
    await fs.writeFile(file, full.subarray(0, Math.floor(full.length * 0.6)));
    await expectDecodeError(file, /premature end/i);
  });

  it('text file named .jpg → ImageDecodeError "not a readable image"', async () => {
    const file = path.join(dir, 'notes.jpg');
    await fs.writeFile(file, 'this is not an image\n');
    await expectDecodeError(file, /not a readable image.*unsupported image format/);
  });

  it('missing and empty files → ImageDecodeError', async () => {
    await expectDecodeError(path.join(dir, 'missing.png'), /cannot read file.*ENOENT/);
    const empty = path.join(dir, 'empty.png');
    await fs.writeFile(empty, '');
    await expectDecodeError(empty, /file is empty/);
  });

  it('crop → exactly the window of a lossless PNG; a window outside the image throws', async () => {
    const H = 9, W = 11;
    const px = patternImage(H, W);
    const file = await writePng(path.join(dir, 'pattern.png'), px, H, W);
    const win = { left: 3, top: 2, width: 5, height: 4 };
    const { image, meta } = await decodeImage(file, { crop: win });
    const expected: number[] = [];
    for (let y = 2; y < 6; y++) expected.push(...px.subarray((y * W + 3) * 3, (y * W + 8) * 3));
    expect(Array.from(image.data)).to.deep.equal(expected);
    expect(meta).to.deep.include({ height: 4, width: 5, scaleX: 1, scaleY: 1, cropXyxy: [3, 2, 8, 6] });
    let err: unknown;
    try { await decodeImage(file, { crop: { left: 8, top: 0, width: 5, height: 2 } }); } catch (e) { err = e; }
    expect(String(err)).to.match(/crop .* is not an integer window inside the 9x11 \(HxW\) image/);
  });

  it('nearest 2x enlargement + postCrop → duplicated pixels of the window (hand derivation)', async () => {
    // Nearest samples source floor((x + 0.5) / 2) = floor(x / 2): each pixel repeated twice in x and y.
    const H = 3, W = 4;
    const px = patternImage(H, W);
    const file = await writePng(path.join(dir, 'small.png'), px, H, W);
    const { image, meta } = await decodeImage(file, {
      resize: { height: 6, width: 8 }, kernel: 'nearest', postCrop: { left: 1, top: 2, width: 4, height: 3 },
    });
    const expected: number[] = [];
    for (let y = 2; y < 5; y++) for (let x = 1; x < 5; x++) expected.push(...px.subarray((Math.floor(y / 2) * W + Math.floor(x / 2)) * 3, (Math.floor(y / 2) * W + Math.floor(x / 2)) * 3 + 3));
    expect(Array.from(image.data)).to.deep.equal(expected);
    // Original region shown: x from 1/2 to 5/2, y from 2/2 to 5/2.
    expect(meta).to.deep.include({ scaleX: 2, scaleY: 2, cropXyxy: [0.5, 1, 2.5, 2.5], height: 3, width: 4 });
  });
});
