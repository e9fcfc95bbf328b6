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

/** The bytes after the opening quote of each key, closing quote included, by key index (bit in `seen`). */
const KEYS = ['image_id', 'category_id', 'bbox', 'score'].map((k) => Uint8Array.from(`${k}"`, (c) => c.charCodeAt(0)));

/** `readNumber`'s value (a module-level slot: returning position and value without an object per number). */
const NUMBER = new Float64Array(1);

/** Position of the first byte at or after `pos` that is not JSON whitespace. */
function skipWhitespace(bytes: Uint8Array, pos: number, len: number): number {
  while (pos < len) {
    const c = bytes[pos];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else break;
  }
  return pos;
}

/**
 * Reads a JSON number at `pos` into `NUMBER[0]`.
 * @returns the position after it, or -1 when there is no JSON number there.
 */
function readNumber(bytes: Uint8Array, pos: number): number {
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
    c = bytes[++pos];
  } else if (c >= 0x31 && c <= 0x39) {
    do {
      m = m * 10 + (c - 0x30);
      sig++;
      c = bytes[++pos];
    } while (c >= 0x30 && c <= 0x39);
  } else return -1;
  if (c === 0x2e) {
    c = bytes[++pos];
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do {
      if (sig > 0 || c !== 0x30) {
        m = m * 10 + (c - 0x30);
        sig++;
      }
      exp--;
      c = bytes[++pos];
    } while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45) {
    c = bytes[++pos];
    let eneg = false;
    if (c === 0x2b || c === 0x2d) {
      eneg = c === 0x2d;
      c = bytes[++pos];
    }
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    let e = 0;
    do {
      if (e < 1e6) e = e * 10 + (c - 0x30);
      c = bytes[++pos];
    } while (c >= 0x30 && c <= 0x39);
    exp += eneg ? -e : e;
  }
  if (sig <= 15 && exp >= -22 && exp <= 22) {
    const v = exp < 0 ? m / POW10[-exp] : m * POW10[exp];
    NUMBER[0] = neg ? -v : v;
  } else {
    NUMBER[0] = Number(String.fromCharCode.apply(null, bytes.subarray(start, pos) as unknown as number[]));
  }
  return pos;
}

/**
 * Index of the key whose name starts at `pos` (just after its opening quote) and the position after its closing
 * quote, as `index | (end << 2)`; -1 for any other key.
 */
function readKey(bytes: Uint8Array, pos: number, len: number): number {
  const c = bytes[pos];
  const k = c === 0x69 ? 0 : c === 0x63 ? 1 : c === 0x62 ? 2 : c === 0x73 ? 3 : -1;
  if (k < 0) return -1;
  const key = KEYS[k];
  if (pos + key.length > len) return -1;
  for (let j = 1; j < key.length; j++) if (bytes[pos + j] !== key[j]) return -1;
  return k | ((pos + key.length) << 2);
}

/**
 * Reads `bytes` (a UTF-8 JSON file) as bbox results.
 * @returns the columns, or null when the text is not exactly of the simple form above.
 */
export function readBboxResultColumns(bytes: Uint8Array): BboxResultColumns | null {
  const len = bytes.length;
  // positions are packed with a key index in readKey (2 bits): files of 2^29 bytes and more take the general path
  if (len >= 2 ** 29) return null;
  // a record takes at least ~60 bytes (`{"image_id":1,"category_id":1,"bbox":[0,0,1,1],"score":1}`): rarely grown
  let cap = Math.ceil(len / 60) + 16;
  let imageId: Float64Array = new Float64Array(cap);
  let categoryId: Float64Array = new Float64Array(cap);
  let score: Float64Array = new Float64Array(cap);
  let bbox: Float64Array = new Float64Array(cap * 4);
  let n = 0;
  let pos = skipWhitespace(bytes, 0, len);
  if (bytes[pos] !== 0x5b) return null;
  pos = skipWhitespace(bytes, pos + 1, len);
  if (bytes[pos] === 0x5d) return null; // empty list: the general path warns about it
  for (;;) {
    if (bytes[pos++] !== 0x7b) return null;
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
      pos = skipWhitespace(bytes, pos, len);
      if (bytes[pos] !== 0x22) return null;
      const key = readKey(bytes, pos + 1, len);
      if (key < 0) return null;
      const k = key & 3;
      if (seen & (1 << k)) return null;
      seen |= 1 << k;
      pos = skipWhitespace(bytes, key >>> 2, len);
      if (bytes[pos] !== 0x3a) return null;
      pos = skipWhitespace(bytes, pos + 1, len);
      if (k === 2) {
        if (bytes[pos] !== 0x5b) return null;
        pos++;
        for (let j = 0; j < 4; j++) {
          pos = readNumber(bytes, skipWhitespace(bytes, pos, len));
          if (pos < 0) return null;
          const v = NUMBER[0];
          if (!Number.isFinite(v)) return null;
          bbox[n * 4 + j] = v;
          pos = skipWhitespace(bytes, pos, len);
          if (bytes[pos++] !== (j < 3 ? 0x2c : 0x5d)) return null;
        }
      } else {
        pos = readNumber(bytes, pos);
        if (pos < 0) return null;
        const v = NUMBER[0];
        if (!Number.isFinite(v)) return null;
        if (k === 0) imageId[n] = v;
        else if (k === 1) categoryId[n] = v;
        else score[n] = v;
      }
      pos = skipWhitespace(bytes, pos, len);
      const c = bytes[pos++];
      if (c === 0x7d) break;
      if (c !== 0x2c) return null;
    }
    if (seen !== 15) return null;
    n++;
    pos = skipWhitespace(bytes, pos, len);
    const c = bytes[pos++];
    if (c === 0x5d) break;
    if (c !== 0x2c) return null;
    pos = skipWhitespace(bytes, pos, len);
  }
  pos = skipWhitespace(bytes, pos, len);
  if (pos !== len) return null;
  return { imageId: imageId.subarray(0, n), categoryId: categoryId.subarray(0, n), score: score.subarray(0, n), bbox: bbox.subarray(0, n * 4) };
}
