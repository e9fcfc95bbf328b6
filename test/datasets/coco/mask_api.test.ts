import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  bboxIou,
  rleArea,
  rleDecode,
  rleEncode,
  rleFrBbox,
  rleFromJson,
  rleFrPoly,
  rleFrString,
  rleIou,
  rleMerge,
  rleToBbox,
  rleToString,
  type Rle,
} from '../../../datasets/coco/mask_api';

const FIXTURES = path.resolve(__dirname, '..', '..', 'fixtures', 'coco');

/** Column-major mask of size h x w with the given (x, y) pixels set. */
function maskOf(h: number, w: number, pixels: [number, number][]): Uint8Array {
  const m = new Uint8Array(h * w);
  for (const [x, y] of pixels) m[x * h + y] = 1;
  return m;
}

const rle = (h: number, w: number, counts: number[]): Rle => ({ h, w, counts: Uint32Array.from(counts) });

describe('rleEncode / rleDecode', () => {
  it('h=4 w=3, pixels (1,1) (1,2) (2,1) → counts [5,2,2,1,2] (column-major indices 5,6,9)', () => {
    // x*h+y: (1,1)→5, (1,2)→6, (2,1)→9; runs: 0..4 zeros (5), 5..6 ones (2), 7..8 zeros (2), 9 one (1), 10..11 zeros (2)
    const m = maskOf(4, 3, [[1, 1], [1, 2], [2, 1]]);
    const r = rleEncode(m, 4, 3);
    expect(Array.from(r.counts)).to.deep.equal([5, 2, 2, 1, 2]);
    expect(Array.from(rleDecode(r))).to.deep.equal(Array.from(m));
  });

  it('mask starting with a 1 gets a leading zero run: [1,1,0] → [0,2,1]', () => {
    expect(Array.from(rleEncode([1, 1, 0], 3, 1).counts)).to.deep.equal([0, 2, 1]);
  });

  it('decode rejects counts summing beyond h*w', () => {
    expect(() => rleDecode(rle(2, 2, [3, 2]))).to.throw(/Invalid RLE/);
  });
});

describe('rleArea / rleToBbox', () => {
  it('counts [5,2,2,1,2] at h=4 w=3 → area 3, bbox [1,1,2,2]', () => {
    // foreground x in {1,2}, y in {1,2} → xywh [1, 1, 2, 2]
    const r = rle(4, 3, [5, 2, 2, 1, 2]);
    expect(rleArea(r)).to.equal(3);
    expect(rleToBbox(r)).to.deep.equal([1, 1, 2, 2]);
  });

  it('a run crossing a column boundary spans the full height: h=4, run over indices 3..4 → [0,0,2,4]', () => {
    // index 3 = (x0, y3), index 4 = (x1, y0): columns 0..1, and the run wraps so y spans 0..h-1
    expect(rleToBbox(rle(4, 2, [3, 2, 3]))).to.deep.equal([0, 0, 2, 4]);
  });

  it('an empty RLE has box [0,0,0,0]', () => {
    expect(rleToBbox(rle(4, 2, [8]))).to.deep.equal([0, 0, 0, 0]);
  });
});

describe('rleMerge', () => {
  // h=1 w=6 rows: A = 011100, B = 000111
  const A = rle(1, 6, [1, 3, 2]);
  const B = rle(1, 6, [3, 3]);
  it('union 011100 | 000111 = 011111 → [1,5]', () => {
    expect(Array.from(rleMerge([A, B]).counts)).to.deep.equal([1, 5]);
  });
  it('intersection 011100 & 000111 = 000100 → [3,1,2]', () => {
    expect(Array.from(rleMerge([A, B], true).counts)).to.deep.equal([3, 1, 2]);
  });
  it('sizes that differ give a 0x0 RLE, as maskApi.c', () => {
    const m = rleMerge([A, rle(2, 3, [6])]);
    expect([m.h, m.w, m.counts.length]).to.deep.equal([0, 0, 0]);
  });
});

describe('rleToString / rleFrString', () => {
  it('[1,3,2] → "132" (small counts are one char each: value + 48)', () => {
    expect(rleToString(rle(3, 2, [1, 3, 2]))).to.equal('132');
  });

  it('[0,100,5,50] → "0T35^N" and back', () => {
    // 0 → '0'. 100 = 3*32 + 4: low 5 bits 4 with continuation 0x20 → 36+48 = 'T', then 3 → '3'.
    // 5 → '5'. 4th count is written as 50 - 100 = -50 = -2*32 + 14: 14|0x20 → 46+48 = '^'; then -2 & 31 = 30 with
    // sign bit 0x10 set and the rest -1 → stop: 30+48 = 'N'.
    const r = rle(5, 31, [0, 100, 5, 50]);
    expect(rleToString(r)).to.equal('0T35^N');
    expect(Array.from(rleFrString('0T35^N', 5, 31).counts)).to.deep.equal([0, 100, 5, 50]);
  });

  it('round-trips every result RLE of the segm fixtures (strings written by pycocotools)', () => {
    let n = 0;
    for (const c of ['case001_08', 'case001_11']) {
      const dt = JSON.parse(fs.readFileSync(path.join(FIXTURES, c, 'dt.json'), 'utf8')) as { segmentation: { size: [number, number]; counts: string } }[];
      for (const r of dt) {
        const parsed = rleFromJson(r.segmentation);
        let sum = 0;
        parsed.counts.forEach((v) => (sum += v));
        expect(sum).to.equal(r.segmentation.size[0] * r.segmentation.size[1]);
        expect(rleToString(parsed)).to.equal(r.segmentation.counts);
        n++;
      }
    }
    expect(n).to.be.greaterThan(40);
  });

  it('rejects characters outside 48..111', () => {
    expect(() => rleFrString('12 3', 2, 2)).to.throw(/invalid character/);
  });
});

describe('rleFrPoly / rleFrBbox', () => {
  it('square (0,0)-(2,2) at h=4 w=4 → pixels x,y in {0,1}: counts [0,2,2,2,10]', () => {
    // Upsampled by 5: corners (0,0),(0,10),(10,10),(10,0). Along the bottom edge (y=10) x moves 0→10: the
    // x-crossings (xd+.5)/5-.5 integral are xd=2 → x=0 and xd=7 → x=1, with y = ceil((10+.5)/5-.5) = ceil(1.6) = 2.
    // Along the top edge (y=0) moving back: x=1, x=0 with y = max(0, (0+.5)/5-.5) → 0. Boundary indices x*h+y:
    // {2, 6, 4, 0} plus h*w=16 → sorted diffs [0,2,2,2,10]: rows 0..1 of columns 0 and 1.
    const r = rleFrPoly([0, 0, 0, 2, 2, 2, 2, 0], 4, 4);
    expect(Array.from(r.counts)).to.deep.equal([0, 2, 2, 2, 10]);
    expect(Array.from(rleFrBbox([0, 0, 2, 2], 4, 4).counts)).to.deep.equal([0, 2, 2, 2, 10]);
  });

  it('box [0.9, 0.9, 1.2, 1.2] rounds on the 5x grid: 5*0.9+.5 → 5, 5*2.1+.5 → 11 → pixel (1,1) only', () => {
    // x crossings of xd in 5..10 (bottom edge, moving right: xd = u-1 for u=6..11): integral (xd+.5)/5-.5 at xd=7 → 1.
    // y = ceil((11+.5)/5-.5) = ceil(1.8) = 2 at the bottom, ceil(max(0,(5+.5)/5-.5)) = ceil(0.6) = 1 at the top →
    // column 1 covers rows 1..1: indices {1*4+1=5, 1*4+2=6} → counts [5,1,10].
    expect(Array.from(rleFrBbox([0.9, 0.9, 1.2, 1.2], 4, 4).counts)).to.deep.equal([5, 1, 10]);
  });

  it('a polygon outside the image gives an empty mask [h*w]', () => {
    expect(Array.from(rleFrPoly([10, 10, 10, 12, 12, 12], 4, 4).counts)).to.deep.equal([16]);
  });

  it('a vertex at 1.7e8 is a RangeError before any allocation (5*1.7e8 + 1 points > 2^27), not a heap abort', () => {
    // On the 5x grid: (0,0)→(850000000,0) 850000001 points, →(50,50) 849999951, →(0,0) 51: 1700000003.
    expect(() => rleFrPoly([0, 0, 1.7e8, 0, 10, 10], 480, 640)).to.throw(RangeError,
      /^rleFrPoly: the outline has 1700000003 points on the 5x grid, more than 134217728 \(a vertex far outside the 640x480 \(WxH\) mask/);
  });
});

describe('bboxIou / rleIou', () => {
  it('dt [0,0,10,10] vs gt [5,0,10,10]: IoU 50/150; crowd gt: 50/100', () => {
    // intersection 5x10 = 50; union 100 + 100 - 50 = 150; for a crowd gt the union is the dt area 100
    const o = bboxIou([0, 0, 10, 10], [5, 0, 10, 10, 5, 0, 10, 10], [0, 1]);
    expect(o[0]).to.equal(50 / 150);
    expect(o[1]).to.equal(0.5);
  });

  it('masks 011100 vs 000111 (h=1 w=6): IoU 1/5; crowd gt: 1/3 (union = dt area)', () => {
    const dt = rle(1, 6, [1, 3, 2]);
    const gt = rle(1, 6, [3, 3]);
    const o = rleIou([dt], [gt, gt], [0, 1]);
    expect(o[0]).to.equal(1 / 5);
    expect(o[1]).to.equal(1 / 3);
  });

  it('masks of different sizes whose boxes overlap → -1', () => {
    expect(rleIou([rle(1, 6, [1, 3, 2])], [rle(2, 3, [0, 6])], [0])[0]).to.equal(-1);
  });

  it('disjoint masks → 0', () => {
    expect(rleIou([rle(1, 6, [0, 2, 4])], [rle(1, 6, [4, 2])], [0])[0]).to.equal(0);
  });
});
