import { expect } from 'chai';

import { readBboxResultColumns } from '../../../datasets/coco/results_json';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** Deterministic uniform [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('readBboxResultColumns', () => {
  it('number spellings give exactly the values JSON.parse gives (Object.is, so -0 too)', () => {
    const rnd = lcg(7);
    const spellings: string[] = ['0', '-0', '-0.0', '1', '0.1', '0.30000000000000004', '1e2', '1E+2', '2.5e-3', '5e-324', '1.7976931348623157e308',
      '123456789012345', '1234567890123456', '12345678901234567890', '0.000001', '9007199254740993', '1e22', '1e23', '3.0e-22', '4.35', '0.1e1'];
    for (let i = 0; i < 3000; i++) {
      const x = (rnd() - 0.3) * 10 ** Math.floor(rnd() * 12 - 4);
      spellings.push(String(x), x.toFixed(Math.floor(rnd() * 6)), x.toExponential(Math.floor(rnd() * 17)), (Math.round(x * 100) / 100).toString());
    }
    const records = [];
    for (let i = 0; i < spellings.length; i += 4) {
      const v = (j: number) => spellings[(i + j) % spellings.length];
      records.push(`{"image_id": ${v(0)}, "category_id":${v(1)},"bbox":[${v(2)}, ${v(3)},${v(0)} ,${v(1)}], "score": ${v(2)}}`);
    }
    const text = `[\n ${records.join(',\n ')}\n]\n`;
    const c = readBboxResultColumns(bytes(text));
    expect(c).to.not.equal(null);
    const ref = JSON.parse(text) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
    expect(c!.imageId.length).to.equal(ref.length);
    let mismatches = 0;
    ref.forEach((r, i) => {
      const got = [c!.imageId[i], c!.categoryId[i], ...c!.bbox.subarray(i * 4, i * 4 + 4), c!.score[i]];
      const want = [r.image_id, r.category_id, ...r.bbox, r.score];
      got.forEach((g, j) => { if (!Object.is(g, want[j])) mismatches++; });
    });
    expect(mismatches).to.equal(0);
  });

  it('keys in any order; whitespace as JSON allows', () => {
    const c = readBboxResultColumns(bytes(' [ {"score":0.5,"bbox":[1,2,3,4],"category_id":3,"image_id":9}\t,\r\n{"image_id":1,"category_id":2,"score":1,"bbox":[0,0,1,1]} ] '));
    expect(Array.from(c!.imageId)).to.deep.equal([9, 1]);
    expect(Array.from(c!.bbox)).to.deep.equal([1, 2, 3, 4, 0, 0, 1, 1]);
    expect(Array.from(c!.score)).to.deep.equal([0.5, 1]);
  });

  for (const [what, text] of [
    ['an empty list', '[]'],
    ['another key', '[{"image_id":1,"category_id":2,"bbox":[0,0,1,1],"score":1,"extra":0}]'],
    ['a missing key', '[{"image_id":1,"category_id":2,"bbox":[0,0,1,1]}]'],
    ['a repeated key', '[{"image_id":1,"image_id":2,"category_id":2,"bbox":[0,0,1,1],"score":1}]'],
    ['an escaped key', '[{"image\\u005fid":1,"category_id":2,"bbox":[0,0,1,1],"score":1}]'],
    ['a string value', '[{"image_id":"1","category_id":2,"bbox":[0,0,1,1],"score":1}]'],
    ['a box of 3 numbers', '[{"image_id":1,"category_id":2,"bbox":[0,0,1],"score":1}]'],
    ['a segmentation', '[{"image_id":1,"category_id":2,"segmentation":{"size":[1,1],"counts":"1"},"score":1}]'],
    ['a number out of range', '[{"image_id":1,"category_id":2,"bbox":[0,0,1,1],"score":1e400}]'],
    ['a leading zero (not JSON)', '[{"image_id":01,"category_id":2,"bbox":[0,0,1,1],"score":1}]'],
    ['trailing text', '[{"image_id":1,"category_id":2,"bbox":[0,0,1,1],"score":1}] x'],
    ['a trailing comma', '[{"image_id":1,"category_id":2,"bbox":[0,0,1,1],"score":1},]'],
    ['a byte-order mark', '\ufeff[{"image_id":1,"category_id":2,"bbox":[0,0,1,1],"score":1}]'],
  ] as const) {
    it(`${what} → null (the caller parses with JSON.parse)`, () => {
      expect(readBboxResultColumns(bytes(text))).to.equal(null);
    });
  }
});
