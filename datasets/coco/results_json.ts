/**
 * A fast reader for the common COCO bbox results file: a JSON array of records holding exactly `image_id`,
 * `category_id`, `bbox` (4 numbers) and `score`, all finite numbers. It reads the bytes straight into columns,
 * without the intermediate objects `JSON.parse` builds (half of loading 250,000 results went to making and
 * collecting them). Anything else — other keys or value types, escapes, repeated or missing keys, non-finite
 * numbers, malformed JSON, an empty list — gives null, and the caller parses the text with `JSON.parse` (which also
 * gives the error messages), so the values are always `JSON.parse`'s.
 *
 * Numbers: JSON's grammar (RFC 8259 §6). With at most 15 significant digits and a decimal exponent within ±22, the
 * value is `m * 10^e` or `m / 10^e` of two exact doubles, one correctly rounded operation (Clinger's fast path, as
 * V8 and CPython use); other numbers go through `Number()`, which rounds correctly as `JSON.parse` does.
 */

/** Columns of a bbox results file, `[N]` or `[N, 4]` row-major (bbox: x, y, w, h in pixels). */
export interface BboxResultColumns {
  imageId: Float64Array;
  categoryId: Float64Array;
  score: Float64Array;
  bbox: Float64Array;
}

const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const KEYS = ['image_id', 'category_id', 'bbox', 'score'].map((k) => Uint8Array.from(`"${k}"`, (c) => c.charCodeAt(0)));

/**
 * Reads `bytes` (a UTF-8 JSON file) as bbox results.
 * @returns the columns, or null when the text is not exactly of the simple form above.
 */
export function readBboxResultColumns(bytes: Uint8Array): BboxResultColumns | null {
  const len = bytes.length;
  let pos = 0;
  const ws = (): void => {
    while (pos < len) {
      const c = bytes[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  // NaN marks "not a simple number"
  const num = (): number => {
    const start = pos;
    let neg = false;
    if (bytes[pos] === 0x2d) {
      neg = true;
      pos++;
    }
    let m = 0;
    let sig = 0; // significant digits taken into m
    let exp = 0;
    let c = bytes[pos];
    if (c === 0x30) {
      pos++;
      c = bytes[pos];
    } else if (c >= 0x31 && c <= 0x39) {
      while (c >= 0x30 && c <= 0x39) {
        m = m * 10 + (c - 0x30);
        sig++;
        pos++;
        c = bytes[pos];
      }
    } else return NaN;
    if (c === 0x2e) {
      pos++;
      c = bytes[pos];
      if (!(c >= 0x30 && c <= 0x39)) return NaN;
      while (c >= 0x30 && c <= 0x39) {
        if (sig > 0 || c !== 0x30) {
          m = m * 10 + (c - 0x30);
          sig++;
        }
        exp--;
        pos++;
        c = bytes[pos];
      }
    }
    if (c === 0x65 || c === 0x45) {
      pos++;
      c = bytes[pos];
      let eneg = false;
      if (c === 0x2b || c === 0x2d) {
        eneg = c === 0x2d;
        pos++;
        c = bytes[pos];
      }
      if (!(c >= 0x30 && c <= 0x39)) return NaN;
      let e = 0;
      while (c >= 0x30 && c <= 0x39) {
        if (e < 1e6) e = e * 10 + (c - 0x30);
        pos++;
        c = bytes[pos];
      }
      exp += eneg ? -e : e;
    }
    let v: number;
    if (sig <= 15 && exp >= -22 && exp <= 22) v = exp < 0 ? m / POW10[-exp] : m * POW10[exp];
    else {
      let s = '';
      for (let i = start; i < pos; i++) s += String.fromCharCode(bytes[i]);
      return Number(s);
    }
    return neg ? -v : v;
  };
  const keyAt = (): number => {
    for (let k = 0; k < KEYS.length; k++) {
      const key = KEYS[k];
      if (pos + key.length > len) continue;
      let ok = true;
      for (let j = 0; j < key.length; j++) {
        if (bytes[pos + j] !== key[j]) {
          ok = false;
          break;
        }
      }
      if (ok) {
        pos += key.length;
        return k;
      }
    }
    return -1;
  };

  // a record takes at least ~60 bytes (`{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1}`): rarely grown
  let cap = Math.ceil(len / 60) + 16;
  let imageId: Float64Array = new Float64Array(cap);
  let categoryId: Float64Array = new Float64Array(cap);
  let score: Float64Array = new Float64Array(cap);
  let bbox: Float64Array = new Float64Array(cap * 4);
  let n = 0;
  ws();
  if (bytes[pos] !== 0x5b) return null;
  pos++;
  ws();
  if (bytes[pos] === 0x5d) return null; // empty list: the general path warns about it
  for (;;) {
    if (bytes[pos] !== 0x7b) return null;
    pos++;
    if (n === cap) {
      cap *= 2;
      const grow = (a: Float64Array, w: number): Float64Array => {
        const b = new Float64Array(cap * w);
        b.set(a);
        return b;
      };
      imageId = grow(imageId, 1);
      categoryId = grow(categoryId, 1);
      score = grow(score, 1);
      bbox = grow(bbox, 4);
    }
    let seen = 0;
    for (;;) {
      ws();
      const k = keyAt();
      if (k < 0 || seen & (1 << k)) return null;
      seen |= 1 << k;
      ws();
      if (bytes[pos] !== 0x3a) return null;
      pos++;
      ws();
      if (k === 2) {
        if (bytes[pos] !== 0x5b) return null;
        pos++;
        for (let j = 0; j < 4; j++) {
          ws();
          const v = num();
          if (!Number.isFinite(v)) return null;
          bbox[n * 4 + j] = v;
          ws();
          if (bytes[pos] !== (j < 3 ? 0x2c : 0x5d)) return null;
          pos++;
        }
      } else {
        const v = num();
        if (!Number.isFinite(v)) return null;
        if (k === 0) imageId[n] = v;
        else if (k === 1) categoryId[n] = v;
        else score[n] = v;
      }
      ws();
      const c = bytes[pos++];
      if (c === 0x7d) break;
      if (c !== 0x2c) return null;
    }
    if (seen !== 15) return null;
    n++;
    ws();
    const c = bytes[pos++];
    if (c === 0x5d) break;
    if (c !== 0x2c) return null;
    ws();
  }
  ws();
  if (pos !== len) return null;
  return { imageId: imageId.subarray(0, n), categoryId: categoryId.subarray(0, n), score: score.subarray(0, n), bbox: bbox.subarray(0, n * 4) };
}
