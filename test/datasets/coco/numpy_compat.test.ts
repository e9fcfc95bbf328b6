import { expect } from 'chai';

import { argsortDescStable, meanOrMinusOne, sortedUnique } from '../../../datasets/coco/numpy_compat';

/** Deterministic scores with many ties (values on a 1/8 grid), as rounded detector scores have. */
function tiedScores(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 29) / 8;
  }
  return out;
}

describe('argsortDescStable', () => {
  it('hand-derived: scores [0.5, 0.9, 0.5, 0.9, 0.1] → [1, 3, 0, 2, 4] (ties keep their order, as mergesort)', () => {
    const idx = Int32Array.from([0, 1, 2, 3, 4]);
    argsortDescStable(idx, Float64Array.from([0.5, 0.9, 0.5, 0.9, 0.1]));
    expect(Array.from(idx)).to.deep.equal([1, 3, 0, 2, 4]);
  });

  it('sorts idx[start..end) only: [9, 0, 1, 2, 9] with scores [0.1, 0.2, 0.3] → [9, 2, 1, 0, 9]', () => {
    const idx = Int32Array.from([9, 0, 1, 2, 9]);
    argsortDescStable(idx, Float64Array.from([0.1, 0.2, 0.3]), 1, 4);
    expect(Array.from(idx)).to.deep.equal([9, 2, 1, 0, 9]);
  });

  it('a range of 40 inside a longer array (merge path): equals the stable Array#sort of that range', () => {
    const score = tiedScores(50, 3);
    const idx = Int32Array.from({ length: 50 }, (_, i) => 49 - i);
    const expected = [...Array.from(idx.subarray(0, 5)), ...Array.from(idx.subarray(5, 45)).sort((a, b) => score[b] - score[a]), ...Array.from(idx.subarray(45))];
    argsortDescStable(idx, score, 5, 45);
    expect(Array.from(idx)).to.deep.equal(expected);
  });

  for (const n of [2, 15, 16, 17, 33, 100, 1000, 4099]) {
    it(`n=${n} with ties, permuted input: equals the stable Array#sort by descending score`, () => {
      const score = tiedScores(n, n);
      // a permuted index list, so that "current order" differs from index order
      const idx = Int32Array.from({ length: n }, (_, i) => (i * 7919) % n);
      if (new Set(idx).size !== n) for (let i = 0; i < n; i++) idx[i] = n - 1 - i;
      // Array.prototype.sort is stable (ES2019): an independent oracle for numpy's mergesort order
      const expected = Array.from(idx).sort((a, b) => score[b] - score[a]);
      argsortDescStable(idx, score);
      expect(Array.from(idx)).to.deep.equal(expected);
    });
  }
});

describe('meanOrMinusOne / sortedUnique', () => {
  it('mean of [] is -1 (pycocotools "undefined"); mean of [0.25, 0.5] is 0.375; unique sorts and de-duplicates', () => {
    expect(meanOrMinusOne([])).to.equal(-1);
    expect(meanOrMinusOne(Float64Array.from([0.25, 0.5]))).to.equal(0.375);
    expect(sortedUnique([3, 1, 3, 2])).to.deep.equal([1, 2, 3]);
  });
});
