/**
 * Segmentation metrics: hand-derived confusion matrices, and parity with the NumPy/PIL reference
 * (scripts/bench/eval_seg_reference.py, which reproduces the project's VOC segmentation oracle exactly) on
 * test/fixtures/voc_seg_oracle and, when present, on the whole oracle at ../shared/oracles/voc-seg.
 * Metrics compare within 1e-12 absolute (float64 ratios of exact integer counts; only the order of the sums in
 * the means differs).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { encode } from 'fast-png';
import { deflateSync } from 'zlib';
import { decodeIndexPng } from '../../../datasets/pipeline/png_index';
import { GroundTruthValueError, SegmentationConfusion, SegmentationMetrics, formatSegmentationMetrics } from '../../../datasets/voc/miou';
import { decodeLabelPng, evaluateSegmentationFolders } from '../../../datasets/voc/miou_folders';
import { seededFloats } from '../../helpers/tensors';

const REPO = path.resolve(__dirname, '..', '..', '..');
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'voc_seg_oracle');
const SHARED = path.join(path.resolve(REPO, '..', 'shared'), 'oracles', 'voc-seg');
const EXACT = 1e-12;

interface ExpectedMetrics {
  num_classes: number;
  aAcc: number;
  mIoU: number;
  mAcc: number;
  IoU: (number | null)[];
  Acc: (number | null)[];
  confusion_matrix_rows_gt_cols_pred: number[][];
  gt_pixels_with_out_of_range_prediction: number[];
}

function expectMetricsEqual(m: SegmentationMetrics, e: ExpectedMetrics): void {
  expect(m.confusion).to.deep.equal(e.confusion_matrix_rows_gt_cols_pred);
  expect(m.gtPixelsWithOutOfRangePrediction).to.deep.equal(e.gt_pixels_with_out_of_range_prediction);
  for (const key of ['IoU', 'Acc'] as const) {
    e[key].forEach((v, j) => {
      if (v === null) expect(m[key][j], `${key}[${j}]`).to.equal(null);
      else expect(m[key][j], `${key}[${j}]`).to.be.closeTo(v, EXACT);
    });
  }
  for (const key of ['aAcc', 'mIoU', 'mAcc'] as const) expect(m[key], key).to.be.closeTo(e[key], EXACT);
}

describe('SegmentationConfusion', () => {
  it('K=4 hand-derived: ignore 255, out-of-range prediction, a class never present (null)', () => {
    // Class 3 is absent from both gt and pred.
    //   pixel: 0    1    2    3    4    5    6    7    8
    //   gt   : 0    0    0    1    1    2    255  2    1
    //   pred : 0    1    0    1    7    2    1    0    255
    // pixel 6 is ignored; pixels 4 and 8 (gt 1) predict no class.
    // confusion (rows gt, cols pred 0..3): gt0 [2,1,0,0]; gt1 [0,1,0,0] + 2 no-class; gt2 [1,0,1,0]
    // gt areas: 3, 3, 2, 0; pred areas: 3, 2, 1, 0; TP: 2, 1, 1, 0
    // IoU: 2/(3+3-2)=1/2, 1/(3+2-1)=1/4, 1/(2+1-1)=1/2, null; Acc: 2/3, 1/3, 1/2, null
    // aAcc = 4/8; mIoU = (1/2+1/4+1/2)/3 = 5/12; mAcc = (2/3+1/3+1/2)/3 = 1/2
    const c = new SegmentationConfusion({ numClasses: 4 });
    c.update(new Uint8Array([0, 0, 0, 1, 1, 2, 255, 2, 1]), new Uint8Array([0, 1, 0, 1, 7, 2, 1, 0, 255]));
    const m = c.compute();
    expect(m.confusion).to.deep.equal([[2, 1, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]);
    expect(m.gtPixelsWithOutOfRangePrediction).to.deep.equal([0, 2, 0, 0]);
    expect(m.IoU).to.deep.equal([1 / 2, 1 / 4, 1 / 2, null]);
    expect(m.Acc).to.deep.equal([2 / 3, 1 / 3, 1 / 2, null]);
    expect(m.aAcc).to.equal(4 / 8);
    expect(m.mIoU).to.be.closeTo(5 / 12, 1e-15);
    expect(m.mAcc).to.be.closeTo(1 / 2, 1e-15);
    expect(m.numImages).to.equal(1);
  });

  it('a class predicted but absent from gt has IoU 0 and Acc null; images accumulate into one matrix', () => {
    // image 1: gt [0, 0], pred [0, 1]; image 2: gt [1, 1] pred [1, 1] with ignoreIndex 9 on a third pixel.
    // confusion: gt0 [1, 1, 0]; gt1 [0, 2, 0]; class 2 predicted nowhere, absent: null.
    // IoU: 1/(2+1-1)=1/2, 2/(2+3-2)=2/3, null. Acc: 1/2, 1, null. aAcc 3/4.
    const c = new SegmentationConfusion({ numClasses: 3, ignoreIndex: 9 });
    c.update([0, 0], [0, 1]);
    c.update(new Int32Array([1, 1, 9]), new Int32Array([1, 1, 2]));
    const m = c.compute();
    expect(m.IoU).to.deep.equal([1 / 2, 2 / 3, null]);
    expect(m.Acc).to.deep.equal([1 / 2, 1, null]);
    expect(m.aAcc).to.equal(3 / 4);
    expect(m.numImages).to.equal(2);
    // Class 1 predicted in image 1 where gt is 0: a class absent from gt but predicted gives IoU 0, Acc null.
    const d = new SegmentationConfusion({ numClasses: 2 });
    d.update([0, 0], [0, 1]);
    expect(d.compute().IoU).to.deep.equal([1 / 2, 0]);
    expect(d.compute().Acc).to.deep.equal([1 / 2, null]);
    expect(d.compute().mIoU).to.equal(1 / 4);
  });

  it('merge adds counts; reset clears them; nothing counted gives null aAcc/mIoU/mAcc', () => {
    const a = new SegmentationConfusion({ numClasses: 2 });
    const b = new SegmentationConfusion({ numClasses: 2 });
    a.update(new Uint16Array([0, 1]), new Uint16Array([0, 1000]));
    b.update(new Uint8Array([1]), new Uint8Array([1]));
    a.merge(b);
    const m = a.compute();
    expect(m.confusion).to.deep.equal([[1, 0], [0, 1]]);
    expect(m.gtPixelsWithOutOfRangePrediction).to.deep.equal([0, 1]);
    expect(m.IoU).to.deep.equal([1, 1 / 2]);
    expect(m.numImages).to.equal(2);
    a.reset();
    a.update(new Uint8Array([255, 255]), new Uint8Array([0, 1]));
    const z = a.compute();
    expect([z.aAcc, z.mIoU, z.mAcc]).to.deep.equal([null, null, null]);
    expect(z.IoU).to.deep.equal([null, null]);
    expect(() => a.merge(new SegmentationConfusion({ numClasses: 3 }))).to.throw(/cannot merge/);
  });

  it('errors name the image: length mismatch, ground truth outside classes and ignore; bad options', () => {
    const c = new SegmentationConfusion({ numClasses: 2 });
    expect(() => c.update([0, 1], [0], 'a.png')).to.throw(/a\.png: prediction has 1 pixels, ground truth 2/);
    expect(() => c.update(new Uint16Array([0, 300]), new Uint16Array([0, 0]), 'b.png')).to.throw(
      /b\.png: ground-truth value 300 at pixel 1 is neither a class in 0\.\.1 nor the ignore index 255/,
    );
    // The 8-bit path (a pair histogram) reports the first offending pixel too.
    expect(() => c.update(new Uint8Array([0, 255, 1, 30, 2]), new Uint8Array(5), 'c.png')).to.throw(
      /c\.png: ground-truth value 30 at pixel 3 is neither a class in 0\.\.1 nor the ignore index 255/,
    );
    expect(c.compute().numImages).to.equal(0);
    expect(() => new SegmentationConfusion({ numClasses: 0 })).to.throw(/numClasses/);
    expect(() => new SegmentationConfusion({ numClasses: 3, ignoreIndex: 2 })).to.throw(/ignoreIndex/);
  });

  it('the ground-truth value error is a GroundTruthValueError carrying image, value and pixel (both paths)', () => {
    const c = new SegmentationConfusion({ numClasses: 11 });
    for (const gt of [new Uint8Array([0, 10, 11, 11]), [0, 10, 11, 11]]) {
      let err: unknown;
      try {
        c.update(gt, new Uint8Array(4), 'camvid.png');
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(GroundTruthValueError);
      const g = err as GroundTruthValueError;
      expect([g.image, g.value, g.pixel, g.numClasses, g.ignoreIndex]).to.deep.equal(['camvid.png', 11, 2, 11, 255]);
    }
  });

  it('ignoredPixels and maxGroundTruthClass count over images, both paths, merge and reset', () => {
    const a = new SegmentationConfusion({ numClasses: 12, ignoreIndex: 255 });
    expect([a.ignoredPixels, a.maxGroundTruthClass]).to.deep.equal([0, -1]);
    a.update(new Uint8Array([0, 255, 3, 255]), new Uint8Array(4)); // 8-bit path: 2 ignored, max 3
    a.update([11, 255, 1], [0, 0, 0]); // generic path: 1 ignored, max 11
    expect([a.ignoredPixels, a.maxGroundTruthClass]).to.deep.equal([3, 11]);
    const b = new SegmentationConfusion({ numClasses: 12, ignoreIndex: 255 });
    b.update(new Uint8Array([255, 2]), new Uint8Array(2));
    a.merge(b);
    expect([a.ignoredPixels, a.maxGroundTruthClass]).to.deep.equal([4, 11]);
    a.reset();
    expect([a.ignoredPixels, a.maxGroundTruthClass]).to.deep.equal([0, -1]);
  });
});

describe('formatSegmentationMetrics', () => {
  it('VOC names for K=21, percent with 2 decimals, n/a for null', () => {
    const c = new SegmentationConfusion({ numClasses: 21 });
    c.update([0, 0, 15, 15], [0, 15, 15, 15]);
    const text = formatSegmentationMetrics(c.compute());
    // background: TP 1, gt 2, pred 1 → IoU 1/2, Acc 1/2; person: TP 2, gt 2, pred 3 → IoU 2/3, Acc 1.
    expect(text).to.match(/^background\s+50\.00\s+50\.00$/m);
    expect(text).to.match(/^person\s+66\.67\s+100\.00$/m);
    expect(text).to.match(/^aeroplane\s+n\/a\s+n\/a$/m);
    expect(text).to.match(/^aAcc 75\.00 {2}mIoU 58\.33 {2}mAcc 75\.00 {2}\(1 images, percent\)$/m);
  });

  it('custom names; K without names gives class_<k>; wrong count throws', () => {
    const c = new SegmentationConfusion({ numClasses: 2 });
    c.update([0, 1], [0, 1]);
    expect(formatSegmentationMetrics(c.compute(), ['sky', 'road'])).to.match(/^road\s+100\.00\s+100\.00$/m);
    expect(formatSegmentationMetrics(c.compute())).to.match(/^class_1\s+100\.00/m);
    expect(() => formatSegmentationMetrics(c.compute(), ['a'])).to.throw(/1 class names for K = 2/);
  });
});

describe('evaluateSegmentationFolders (parity with the NumPy/PIL reference)', () => {
  it(`fixture: 5 oracle cases (palette and grayscale predictions) within ${EXACT}`, async () => {
    const expected = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected.json'), 'utf-8')) as ExpectedMetrics & { list: string[] };
    const { metrics, names } = await evaluateSegmentationFolders({
      gtDir: path.join(FIXTURE, 'gt'),
      predDir: path.join(FIXTURE, 'pred'),
      listFile: path.join(FIXTURE, 'list.txt'),
      numClasses: 21,
    });
    expect(names).to.deep.equal(expected.list);
    expectMetricsEqual(metrics, expected);
    // Without a list: every PNG of the gt folder, sorted (the same five here).
    const all = await evaluateSegmentationFolders({ gtDir: path.join(FIXTURE, 'gt'), predDir: path.join(FIXTURE, 'pred'), numClasses: 21 });
    expect(all.names).to.deep.equal([...expected.list].sort());
    expectMetricsEqual(all.metrics, expected);
  });

  const sharedPresent = fs.existsSync(path.join(SHARED, 'expected.json'));
  (sharedPresent ? it : it.skip)(
    `whole oracle ../shared/oracles/voc-seg within ${EXACT}${sharedPresent ? '' : ' (skipped: ../shared/oracles/voc-seg is absent)'}`,
    async () => {
      const expected = JSON.parse(fs.readFileSync(path.join(SHARED, 'expected.json'), 'utf-8')) as ExpectedMetrics;
      const { metrics } = await evaluateSegmentationFolders({
        gtDir: path.join(SHARED, 'gt'),
        predDir: path.join(SHARED, 'pred'),
        listFile: path.join(SHARED, 'list.txt'),
        numClasses: expected.num_classes,
      });
      expectMetricsEqual(metrics, expected);
    },
  );
});

/** CRC-32 of PNG chunks (ISO 3309, as in the PNG specification's annex D). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * An 8-bit grayscale PNG whose row y uses filter type `y % 5` (None, Sub, Up, Average, Paeth, as defined in the
 * PNG specification section 9), its IDAT stream split into two chunks.
 */
function grayPngAllFilters(pixels: Uint8Array, width: number, height: number): Uint8Array {
  const raw = new Uint8Array(height * (width + 1));
  const at = (x: number, y: number): number => (x < 0 || y < 0 ? 0 : pixels[y * width + x]);
  for (let y = 0; y < height; y++) {
    const f = y % 5;
    raw[y * (width + 1)] = f;
    for (let x = 0; x < width; x++) {
      const a = at(x - 1, y);
      const b = at(x, y - 1);
      const c = at(x - 1, y - 1);
      const p = a + b - c;
      const pred = [0, a, b, (a + b) >> 1, Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c][f];
      raw[y * (width + 1) + 1 + x] = (pixels[y * width + x] - pred) & 255;
    }
  }
  const z = deflateSync(raw);
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // depth 8, grayscale, deflate, adaptive filtering, not interlaced
  const half = Math.floor(z.length / 2);
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', z.subarray(0, half)),
      chunk('IDAT', z.subarray(half)),
      chunk('IEND', new Uint8Array(0)),
    ]),
  );
}

describe('decodeLabelPng', () => {
  it('every row filter (None, Sub, Up, Average, Paeth) and split IDAT: the samples decodeIndexPng (fast-png) gives', () => {
    const [w, h] = [37, 23];
    const pixels = Uint8Array.from(seededFloats(w * h, 7), (v) => Math.floor((v + 1) * 128));
    const png = grayPngAllFilters(pixels, w, h);
    const ours = decodeLabelPng(png, 'all_filters.png');
    expect([ours.height, ours.width]).to.deep.equal([h, w]);
    expect(Array.from(ours.data)).to.deep.equal(Array.from(pixels));
    expect(Array.from(decodeIndexPng(png, 'all_filters.png').data)).to.deep.equal(Array.from(pixels));
  });

  it('the fixture PNGs (palette and grayscale, filters 0/1/2/4) decode as with decodeIndexPng', () => {
    for (const sub of ['gt', 'pred']) {
      for (const f of fs.readdirSync(path.join(FIXTURE, sub))) {
        const bytes = new Uint8Array(fs.readFileSync(path.join(FIXTURE, sub, f)));
        const a = decodeLabelPng(bytes, f);
        const b = decodeIndexPng(bytes, f);
        expect([a.height, a.width], f).to.deep.equal([b.height, b.width]);
        expect(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength)), f).to.equal(true);
      }
    }
  });

  it('other layouts go to decodeIndexPng (16-bit gray keeps its values); RGB and non-PNG are errors naming the file', () => {
    const png16 = encode({ width: 3, height: 1, data: new Uint16Array([0, 300, 65535]), channels: 1, depth: 16 });
    const d = decodeLabelPng(png16, 'deep.png');
    expect(d.data).to.be.instanceOf(Uint16Array);
    expect(Array.from(d.data)).to.deep.equal([0, 300, 65535]);
    const rgb = encode({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]), channels: 3, depth: 8 });
    expect(() => decodeLabelPng(rgb, 'colour.png')).to.throw(/colour\.png' is a RGB PNG/);
    expect(() => decodeLabelPng(new Uint8Array(40), 'x.jpg')).to.throw(/'x\.jpg' is not a PNG/);
  });
});
