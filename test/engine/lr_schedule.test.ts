import { expect } from 'chai';
import { LrSchedule, learningRateAt, resolveMilestones, warmupFactorAt } from '../../src/engine/lr_schedule';

const at = (s: LrSchedule, its: number[]) => its.map((it) => learningRateAt(s, it));

function expectClose(actual: number[], expected: number[], tol = 1e-12): void {
  expect(actual.length).to.equal(expected.length);
  actual.forEach((v, i) => expect(v, `entry ${i}`).to.be.closeTo(expected[i], tol));
}

describe('warmupFactorAt', () => {
  it('linear, factor 0.001 over 10 iterations: factor·(1 − α) + α', () => {
    const w = { iters: 10, factor: 0.001 };
    // it 0: 0.001; it 5: α = 0.5 → 0.0005 + 0.5 = 0.5005; it 9: 0.0001 + 0.9 = 0.9001; it ≥ 10: 1
    expectClose([0, 5, 9, 10, 50].map((it) => warmupFactorAt(w, it)), [0.001, 0.5005, 0.9001, 1, 1]);
  });
  it('constant: factor until W, then 1; no warmup: 1', () => {
    const w = { iters: 4, factor: 0.25, method: 'constant' as const };
    expect([0, 3, 4].map((it) => warmupFactorAt(w, it))).to.deep.equal([0.25, 0.25, 1]);
    expect(warmupFactorAt(undefined, 0)).to.equal(1);
    expect(warmupFactorAt({ iters: 0, factor: 0.1 }, 0)).to.equal(1);
  });
});

describe('learningRateAt', () => {
  it('step: gamma^floor(it / stepSize)', () => {
    const s: LrSchedule = { baseLr: 0.1, maxIter: 100, main: { kind: 'step', stepSize: 30, gamma: 0.1 } };
    // it 0..29: 0.1; 30..59: 0.01; 60..89: 0.001; 90..: 1e-4
    expectClose(at(s, [0, 29, 30, 59, 60, 99]), [0.1, 0.1, 0.01, 0.01, 0.001, 1e-4], 1e-15);
  });

  it('multistep with iterations: gamma^(number of milestones ≤ it) (bisect_right)', () => {
    const s: LrSchedule = { baseLr: 0.02, maxIter: 90, main: { kind: 'multistep', gamma: 0.1, milestones: [60, 80] } };
    expectClose(at(s, [0, 59, 60, 79, 80, 90]), [0.02, 0.02, 0.002, 0.002, 0.0002, 0.0002], 1e-15);
  });

  it('multistep with fractions of maxIter: round(f·maxIter)', () => {
    // maxIter 90: 2/3 → 60, 8/9 → 80 (same as above); 0.5 of 7 = 3.5 → 4 (round half up)
    const s: LrSchedule = { baseLr: 0.02, maxIter: 90, main: { kind: 'multistep', gamma: 0.1, milestoneFractions: [2 / 3, 8 / 9] } };
    expectClose(at(s, [59, 60, 79, 80]), [0.02, 0.002, 0.002, 0.0002], 1e-15);
    expect(resolveMilestones({ kind: 'multistep', gamma: 0.1, milestoneFractions: [0.5] }, 7)).to.deep.equal([4]);
  });

  it('multistep rejects both forms, neither, and out-of-range milestones', () => {
    const mk = (main: LrSchedule['main']): LrSchedule => ({ baseLr: 0.1, maxIter: 10, main });
    expect(() => learningRateAt(mk({ kind: 'multistep', gamma: 0.1 }), 0)).to.throw(/exactly one/);
    expect(() => learningRateAt(mk({ kind: 'multistep', gamma: 0.1, milestones: [5], milestoneFractions: [0.5] }), 0)).to.throw(
      /exactly one/,
    );
    expect(() => learningRateAt(mk({ kind: 'multistep', gamma: 0.1, milestones: [11] }), 0)).to.throw(/milestone 11/);
    expect(() => learningRateAt(mk({ kind: 'multistep', gamma: 0.1, milestoneFractions: [1] }), 0)).to.throw(/fraction 1/);
  });

  it('cosine to 0 and to minLr over maxIter', () => {
    const s: LrSchedule = { baseLr: 0.1, maxIter: 100, main: { kind: 'cosine' } };
    // it 25: 0.1·(1 + cos(π/4))/2 = 0.05 + 0.025·√2; it 50: 0.05; it 100: 0; past maxIter: held at 0
    expectClose(at(s, [0, 25, 50, 100, 120]), [0.1, 0.05 + 0.025 * Math.SQRT2, 0.05, 0, 0]);
    const m: LrSchedule = { baseLr: 0.1, maxIter: 100, main: { kind: 'cosine', minLr: 0.001 } };
    // it 50: 0.001 + 0.099/2 = 0.0505; it 100: 0.001
    expectClose(at(m, [50, 100]), [0.0505, 0.001]);
  });

  it('poly, power 0.9 (segmentation)', () => {
    const s: LrSchedule = { baseLr: 0.1, maxIter: 100, main: { kind: 'poly' } };
    // it 50: 0.1·0.5^0.9 = 0.1·2^-0.9 = 0.05358867312681466; it 90: 0.1·0.1^0.9 = 10^-1.9 = 0.012589254117941673
    expectClose(at(s, [0, 50, 90, 100]), [0.1, 0.05358867312681466, 0.012589254117941673, 0], 1e-15);
    const sq: LrSchedule = { baseLr: 1, maxIter: 4, main: { kind: 'poly', power: 2, minLr: 0.5 } };
    // it 2: 0.5 + 0.5·(1/2)² = 0.625
    expect(learningRateAt(sq, 2)).to.equal(0.625);
  });

  it('warmup multiplies the main schedule (detectron2 WarmupCosineLR)', () => {
    const s: LrSchedule = {
      baseLr: 0.1,
      maxIter: 100,
      main: { kind: 'cosine' },
      warmup: { iters: 10, factor: 0.001 },
    };
    // it 0: 0.1·1·0.001; it 5: 0.1·(1 + cos(π/20))/2 · 0.5005; it 10: 0.1·(1 + cos(π/10))/2
    const c5 = (1 + Math.cos(Math.PI / 20)) / 2;
    const c10 = (1 + Math.cos(Math.PI / 10)) / 2;
    expectClose(at(s, [0, 5, 10]), [1e-4, 0.1 * c5 * 0.5005, 0.1 * c10]);
    const step: LrSchedule = { baseLr: 0.1, maxIter: 100, main: { kind: 'constant' }, warmup: { iters: 4, factor: 0.2 } };
    // 0.2, 0.4, 0.6, 0.8, 1 times 0.1
    expectClose(at(step, [0, 1, 2, 3, 4]), [0.02, 0.04, 0.06, 0.08, 0.1]);
  });

  it('rejects bad schedules and iterations, naming the field', () => {
    expect(() => learningRateAt({ baseLr: 0.1, maxIter: 0, main: { kind: 'constant' } }, 0)).to.throw(/maxIter/);
    expect(() => learningRateAt({ baseLr: 0.1, maxIter: 5, main: { kind: 'step', stepSize: 0, gamma: 0.1 } }, 0)).to.throw(
      /stepSize/,
    );
    expect(() =>
      learningRateAt({ baseLr: 0.1, maxIter: 5, main: { kind: 'constant' }, warmup: { iters: 2, factor: 0 } }, 0),
    ).to.throw(/warmup.factor/);
    expect(() => learningRateAt({ baseLr: 0.1, maxIter: 5, main: { kind: 'constant' } }, -1)).to.throw(/iteration/);
    expect(() => learningRateAt({ baseLr: 0.1, maxIter: 5, main: { kind: 'linear' } as never }, 0)).to.throw(/unknown kind 'linear'/);
  });
});
