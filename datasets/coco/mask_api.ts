/**
 * COCO mask utilities: run-length encoding (RLE) of binary masks, polygon and box rasterization, merge, area, box
 * and IoU, and the compressed string form of RLE counts.
 *
 * Conventions (as in the COCO toolbox): a mask of height `h` and width `w` is stored column-major (Fortran order),
 * pixel `(x, y)` at index `x * h + y`. An RLE is the list of run lengths over that order, alternating 0s and 1s and
 * always starting with a run of 0s (possibly of length 0). Boxes are xywh in absolute pixels.
 *
 * Reference: pycocotools `common/maskApi.c` (Piotr Dollár and Tsung-Yi Lin, 2015), as shipped by the maintained
 * fork that the PyPI package `pycocotools` 2.0.x is built from (its segment-wise `rleToBbox` and bounds-checked
 * `rleDecode`), and `PythonAPI/pycocotools/_mask.pyx` for the Python-level wrappers. Integer arithmetic follows the
 * C types: counts are `uint32`, casts `(int)x` truncate toward zero.
 */

import type { CocoRleJson } from './types';
import { briefJson } from '../brief_json';

/** A run-length encoded binary mask of height `h` and width `w` (see the module docstring for the layout). */
export interface Rle {
  /** Mask height in pixels. */
  h: number;
  /** Mask width in pixels. */
  w: number;
  /** Run lengths, `uint32`, alternating 0s and 1s, starting with 0s; they sum to `h * w`. */
  counts: Uint32Array;
}

/**
 * Encodes a binary mask as RLE (maskApi.c `rleEncode`).
 * @param mask `[w * h]` uint8, column-major (`mask[x * h + y]`); any non-zero value is foreground. Not retained.
 * @param h mask height in pixels.
 * @param w mask width in pixels.
 * @returns a new RLE.
 * @throws if `mask.length !== h * w`.
 */
export function rleEncode(mask: ArrayLike<number>, h: number, w: number): Rle {
  const a = h * w;
  if (mask.length !== a) throw new Error(`rleEncode: mask has ${mask.length} values, expected h*w = ${h}*${w} = ${a}`);
  const cnts = new Uint32Array(a + 1);
  let k = 0;
  let p = 0;
  let c = 0;
  for (let j = 0; j < a; j++) {
    const v = mask[j] !== 0 ? 1 : 0;
    if (v !== p) {
      cnts[k++] = c;
      c = 0;
      p = v;
    }
    c++;
  }
  cnts[k++] = c;
  return { h, w, counts: cnts.slice(0, k) };
}

/**
 * Decodes an RLE into a binary mask (maskApi.c `rleDecode`).
 * @param rle the RLE.
 * @returns `[w * h]` uint8 in {0, 1}, column-major (`mask[x * h + y]`); pixels beyond the sum of counts stay 0.
 * @throws `Invalid RLE mask representation` if the counts sum to more than `h * w` (the maintained fork's check).
 */
export function rleDecode(rle: Rle): Uint8Array {
  const s = rle.h * rle.w;
  const out = new Uint8Array(s);
  let pos = 0;
  let v = 0;
  for (let j = 0; j < rle.counts.length; j++) {
    const n = rle.counts[j];
    if (pos + n > s) throw new Error(`Invalid RLE mask representation: counts sum beyond h*w = ${s}`);
    if (v) out.fill(1, pos, pos + n);
    pos += n;
    v = 1 - v;
  }
  return out;
}

/**
 * Union or intersection of RLEs (maskApi.c `rleMerge`).
 * @param rles masks of one size; not modified.
 * @param intersect false for union, true for intersection.
 * @returns a new RLE. As in maskApi.c, no input gives a 0x0 RLE, and inputs of different sizes give a 0x0 RLE.
 */
export function rleMerge(rles: readonly Rle[], intersect = false): Rle {
  const n = rles.length;
  if (n === 0) return { h: 0, w: 0, counts: new Uint32Array(0) };
  let h = rles[0].h;
  let w = rles[0].w;
  if (n === 1) return { h, w, counts: rles[0].counts.slice() };
  let A = rles[0].counts;
  for (let i = 1; i < n; i++) {
    const B = rles[i];
    if (B.h !== h || B.w !== w) {
      h = w = 0;
      A = new Uint32Array(0);
      break;
    }
    const Bc = B.counts;
    const out = new Uint32Array(A.length + Bc.length + 1);
    let m = 0;
    let ca = A.length > 0 ? A[0] : 0;
    let cb = Bc.length > 0 ? Bc[0] : 0;
    let v = 0;
    let va = 0;
    let vb = 0;
    let a = 1;
    let b = 1;
    let cc = 0;
    let ct = 1;
    while (ct > 0) {
      const c = ca < cb ? ca : cb;
      cc += c;
      ct = 0;
      ca -= c;
      if (!ca && a < A.length) {
        ca = A[a++];
        va = 1 - va;
      }
      ct += ca;
      cb -= c;
      if (!cb && b < Bc.length) {
        cb = Bc[b++];
        vb = 1 - vb;
      }
      ct += cb;
      const vp = v;
      v = intersect ? va & vb : va | vb;
      if (v !== vp || ct === 0) {
        out[m++] = cc;
        cc = 0;
      }
    }
    A = out.slice(0, m);
  }
  return { h, w, counts: A };
}

/**
 * Foreground area of an RLE in pixels (maskApi.c `rleArea`: the sum of the odd-indexed counts), as uint32.
 * @param rle the RLE.
 * @returns the number of foreground pixels.
 */
export function rleArea(rle: Rle): number {
  let a = 0;
  const c = rle.counts;
  for (let j = 1; j < c.length; j += 2) a += c[j];
  return a >>> 0;
}

/**
 * Tight bounding box of an RLE (maskApi.c `rleToBbox`, maintained fork: a foreground run that crosses a column
 * boundary spans the full height).
 * @param rle the RLE.
 * @returns `[x, y, w, h]` (xywh, integer pixels); `[0, 0, 0, 0]` when the RLE has fewer than two runs.
 */
export function rleToBbox(rle: Rle): [number, number, number, number] {
  const h = rle.h;
  const cnts = rle.counts;
  const m = Math.floor(cnts.length / 2) * 2;
  if (m === 0) return [0, 0, 0, 0];
  let xs = rle.w;
  let ys = h;
  let xe = 0;
  let ye = 0;
  let cc = 0;
  for (let j = 0; j < m; j++) {
    const start = cc;
    cc = (cc + cnts[j]) >>> 0;
    if (j % 2 === 0) continue;
    if (cnts[j] === 0) continue;
    const yStart = start % h;
    const xStart = (start - yStart) / h;
    const last = (cc - 1) >>> 0;
    const yEnd = last % h;
    const xEnd = (last - yEnd) / h;
    if (xStart < xs) xs = xStart;
    if (xEnd > xe) xe = xEnd;
    if (xStart < xEnd) {
      ys = 0;
      ye = h - 1;
    } else {
      if (yStart < ys) ys = yStart;
      if (yEnd > ye) ye = yEnd;
    }
  }
  return [xs, ys, (xe - xs + 1) >>> 0, (ye - ys + 1) >>> 0];
}

/** Most outline points `rleFrPoly` traces (two float64 arrays of this length: 2 GiB). */
const RLE_FR_POLY_MAX_POINTS = 2 ** 27;

/**
 * Rasterizes a polygon into an RLE exactly as maskApi.c `rleFrPoly`: vertices are scaled by 5 and rounded
 * (`(int)(5*v + .5)`), the boundary is traced densely on the upsampled grid, points on the y-boundary are kept
 * where the upsampled x crosses a pixel centre, and the result is downsampled back.
 * @param xy `[x0, y0, x1, y1, ...]` polygon vertices in absolute pixels (length 2k); not retained.
 * @param h mask height in pixels.
 * @param w mask width in pixels.
 * @returns a new RLE of size h x w.
 * @throws RangeError when the outline would take more than 2^27 points (vertices far outside the mask);
 *   `Coco.annToRle` bounds coordinates by the image size first.
 */
export function rleFrPoly(xy: ArrayLike<number>, h: number, w: number): Rle {
  const k = Math.floor(xy.length / 2);
  const scale = 5;
  const x = new Array<number>(k + 1);
  const y = new Array<number>(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * xy[j * 2] + 0.5);
  x[k] = x[0];
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * xy[j * 2 + 1] + 0.5);
  y[k] = y[0];
  let total = 0;
  for (let j = 0; j < k; j++) total += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1;
  if (!(total <= RLE_FR_POLY_MAX_POINTS)) {
    throw new RangeError(`rleFrPoly: the outline has ${total} points on the 5x grid, more than ${RLE_FR_POLY_MAX_POINTS} ` +
      `(a vertex far outside the ${w}x${h} (WxH) mask, or a non-finite one?)`);
  }
  // A degenerate (repeated) vertex gives s = 0/0 in maskApi.c; that point never reaches the output (its x equals
  // its neighbours'), so a plain array keeps the NaN harmlessly.
  const u = new Array<number>(total);
  const v = new Array<number>(total);
  let m = 0;
  for (let j = 0; j < k; j++) {
    let xs = x[j];
    let xe = x[j + 1];
    let ys = y[j];
    let ye = y[j + 1];
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = Math.trunc(ys + s * t + 0.5);
        m++;
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = Math.trunc(xs + s * t + 0.5);
        m++;
      }
    }
  }
  // Points along the y-boundary, downsampled.
  const nPts = m;
  const bx: number[] = [];
  const by: number[] = [];
  for (let j = 1; j < nPts; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    bx.push(xd);
    by.push(yd);
  }
  // RLE from the y-boundary points.
  const nb = bx.length;
  const a = new Uint32Array(nb + 1);
  for (let j = 0; j < nb; j++) a[j] = bx[j] * h + by[j];
  a[nb] = h * w;
  a.sort();
  let p = 0;
  for (let j = 0; j <= nb; j++) {
    const t = a[j];
    a[j] = t - p;
    p = t;
  }
  const b = new Uint32Array(nb + 1);
  let j = 0;
  let mb = 0;
  b[mb++] = a[j++];
  while (j <= nb) {
    if (a[j] > 0) b[mb++] = a[j++];
    else {
      j++;
      if (j <= nb) b[mb - 1] += a[j++];
    }
  }
  return { h, w, counts: b.slice(0, mb) };
}

/**
 * Rasterizes a box into an RLE (maskApi.c `rleFrBbox`: the polygon of its four corners through `rleFrPoly`).
 * @param bboxXywh `[x, y, w, h]` in absolute pixels.
 * @param h mask height in pixels.
 * @param w mask width in pixels.
 * @returns a new RLE of size h x w.
 */
export function rleFrBbox(bboxXywh: ArrayLike<number>, h: number, w: number): Rle {
  const xs = bboxXywh[0];
  const xe = xs + bboxXywh[2];
  const ys = bboxXywh[1];
  const ye = ys + bboxXywh[3];
  return rleFrPoly([xs, ys, xs, ye, xe, ye, xe, ys], h, w);
}

/**
 * Compressed string form of RLE counts (maskApi.c `rleToString`): LEB128-like, 5 data bits per character in
 * ASCII 48..111, continuation bit 0x20, sign bit 0x10 in the last character; from the fourth count on, the
 * difference to the count two places before is written.
 * @param rle the RLE.
 * @returns the counts string.
 */
export function rleToString(rle: Rle): string {
  const cnts = rle.counts;
  const chars: number[] = [];
  for (let i = 0; i < cnts.length; i++) {
    let x = cnts[i];
    if (i > 2) x -= cnts[i - 2];
    let more = true;
    while (more) {
      const q = Math.floor(x / 32);
      let c = x - q * 32; // x & 0x1f for a two's-complement integer
      x = q; // arithmetic shift right by 5
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
  }
  let s = '';
  const CHUNK = 8192;
  for (let i = 0; i < chars.length; i += CHUNK) s += String.fromCharCode(...chars.slice(i, i + CHUNK));
  return s;
}

/**
 * Parses compressed RLE counts (maskApi.c `rleFrString`), the inverse of {@link rleToString}.
 * @param s the counts string (ASCII 48..111).
 * @param h mask height in pixels.
 * @param w mask width in pixels.
 * @returns a new RLE.
 * @throws if `s` holds a character outside 48..111 or ends inside a number.
 */
export function rleFrString(s: string, h: number, w: number): Rle {
  const cnts = new Uint32Array(s.length);
  let m = 0;
  let p = 0;
  const n = s.length;
  while (p < n) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= n) throw new Error(`RLE counts string ends inside a number at character ${p}`);
      const code = s.charCodeAt(p);
      if (code < 48 || code > 111) {
        throw new Error(`RLE counts string has an invalid character ${JSON.stringify(s[p])} at position ${p}`);
      }
      const c = code - 48;
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k); // x |= -1 << 5k
    }
    if (m > 2) x += cnts[m - 2];
    cnts[m++] = x >>> 0;
  }
  return { h, w, counts: cnts.slice(0, m) };
}

/**
 * Builds an RLE from its JSON form, compressed (string counts) or uncompressed (number list counts, each cast to
 * uint32 as `frUncompressedRLE` does).
 * @param obj `{size: [h, w], counts}`.
 * @returns a new RLE of size `obj.size`.
 * @throws if `size` is not two non-negative integers or `counts` is neither a string nor a number list.
 */
export function rleFromJson(obj: CocoRleJson): Rle {
  const size = obj.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new Error(`RLE size must be [height, width] (non-negative integers), got ${briefJson(size)}`);
  }
  const [h, w] = size;
  if (typeof obj.counts === 'string') return rleFrString(obj.counts, h, w);
  if (Array.isArray(obj.counts)) {
    const c = new Uint32Array(obj.counts.length);
    for (let i = 0; i < c.length; i++) {
      const v = obj.counts[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`RLE counts[${i}] is not a finite number`);
      c[i] = v >>> 0;
    }
    return { h, w, counts: c };
  }
  throw new Error('RLE counts must be a string (compressed) or a number list (uncompressed)');
}

/**
 * IoU between boxes with the COCO crowd rule (maskApi.c `bbIou`): for a crowd ground truth the union is the
 * detection's area alone.
 * @param dtXywh `[D * 4]` float64 detection boxes, xywh absolute pixels.
 * @param gtXywh `[G * 4]` float64 ground-truth boxes, xywh absolute pixels.
 * @param iscrowd `[G]` crowd flags (non-zero = crowd).
 * @returns `[D, G]` float64 row-major (`out[d * G + g]`), 0 where the boxes do not overlap.
 */
export function bboxIou(dtXywh: ArrayLike<number>, gtXywh: ArrayLike<number>, iscrowd: ArrayLike<number>): Float64Array {
  const D = Math.floor(dtXywh.length / 4);
  const G = Math.floor(gtXywh.length / 4);
  const out = new Float64Array(D * G);
  for (let g = 0; g < G; g++) {
    const gx = gtXywh[g * 4];
    const gy = gtXywh[g * 4 + 1];
    const gw = gtXywh[g * 4 + 2];
    const gh = gtXywh[g * 4 + 3];
    const ga = gw * gh;
    const crowd = iscrowd[g] ? 1 : 0;
    for (let d = 0; d < D; d++) {
      const dx = dtXywh[d * 4];
      const dy = dtXywh[d * 4 + 1];
      const dw = dtXywh[d * 4 + 2];
      const dh = dtXywh[d * 4 + 3];
      const da = dw * dh;
      const iw = Math.min(dw + dx, gw + gx) - Math.max(dx, gx);
      if (iw <= 0) continue;
      const ih = Math.min(dh + dy, gh + gy) - Math.max(dy, gy);
      if (ih <= 0) continue;
      const i = iw * ih;
      out[d * G + g] = i / (crowd ? da : da + ga - i);
    }
  }
  return out;
}

/**
 * IoU between two RLEs given their boxes, maskApi.c `rleIou` for one pair: 0 when the boxes do not overlap, -1
 * when the mask sizes differ, else intersection over union (over the detection's area for a crowd ground truth).
 * @param dt detection RLE; `dtBox` its {@link rleToBbox}.
 * @param gt ground-truth RLE; `gtBox` its {@link rleToBbox}.
 * @param crowd whether the ground truth is a crowd region.
 * @returns the IoU, a float64.
 */
export function rlePairIou(
  dt: Rle,
  dtBox: ArrayLike<number>,
  gt: Rle,
  gtBox: ArrayLike<number>,
  crowd: boolean,
): number {
  // Box pre-check (bbIou of the RLE boxes): the exact value is computed only where it is > 0.
  const iw = Math.min(dtBox[2] + dtBox[0], gtBox[2] + gtBox[0]) - Math.max(dtBox[0], gtBox[0]);
  if (iw <= 0) return 0;
  const ih = Math.min(dtBox[3] + dtBox[1], gtBox[3] + gtBox[1]) - Math.max(dtBox[1], gtBox[1]);
  if (ih <= 0) return 0;
  {
    const i = iw * ih;
    const da = dtBox[2] * dtBox[3];
    const o = i / (crowd ? da : da + gtBox[2] * gtBox[3] - i);
    if (!(o > 0)) return o;
  }
  if (dt.h !== gt.h || dt.w !== gt.w) return -1;
  const A = dt.counts;
  const B = gt.counts;
  const ka = A.length;
  const kb = B.length;
  let ca = ka > 0 ? A[0] : 0;
  let cb = kb > 0 ? B[0] : 0;
  let va = 0;
  let vb = 0;
  let a = 1;
  let b = 1;
  let inter = 0;
  let uni = 0;
  let ct = 1;
  while (ct > 0) {
    const c = ca < cb ? ca : cb;
    if (va || vb) {
      uni += c;
      if (va && vb) inter += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && a < ka) {
      ca = A[a++];
      va = 1 - va;
    }
    ct += ca;
    cb -= c;
    if (!cb && b < kb) {
      cb = B[b++];
      vb = 1 - vb;
    }
    ct += cb;
  }
  if (inter === 0) uni = 1;
  else if (crowd) uni = rleArea(dt);
  return inter / uni;
}

/**
 * IoU between RLEs with the COCO crowd rule (maskApi.c `rleIou`).
 * @param dt `[D]` detection RLEs.
 * @param gt `[G]` ground-truth RLEs.
 * @param iscrowd `[G]` crowd flags (non-zero = crowd: union = detection area).
 * @returns `[D, G]` float64 row-major (`out[d * G + g]`): 0 where boxes do not overlap, -1 where sizes differ.
 */
export function rleIou(dt: readonly Rle[], gt: readonly Rle[], iscrowd: ArrayLike<number>): Float64Array {
  const D = dt.length;
  const G = gt.length;
  const db = dt.map(rleToBbox);
  const gb = gt.map(rleToBbox);
  const out = new Float64Array(D * G);
  for (let d = 0; d < D; d++) {
    for (let g = 0; g < G; g++) out[d * G + g] = rlePairIou(dt[d], db[d], gt[g], gb[g], iscrowd[g] ? true : false);
  }
  return out;
}
