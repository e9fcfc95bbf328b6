import { expect } from 'chai';
import { ClassificationEvaluator } from '../../../datasets/image_folder/classification_eval';

describe('ClassificationEvaluator', () => {
  // K = 7 classes (a non-default count), 4 images in two batches. Ranks derived by hand under the torch.topk rule
  // (higher score first; equal scores: lower index first).
  const names = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
  const batch1 = {
    logits: Float32Array.from([
      // img0 gt 2: 2 is the unique max → rank 0 (top-1, top-5 hit); pred 2
      0, 1, 9, 3, 2, 0, 0,
      // img1 gt 3: scores above 3 (=5): class 0 (8), 1 (7), 2 (6) → rank 3: top-1 miss, top-5 hit; pred 0
      8, 7, 6, 5, 0, 0, 0,
    ]),
    labels: Int32Array.from([2, 3]),
  };
  const batch2 = {
    logits: Float32Array.from([
      // img2 gt 4: all scores equal (1) → ties; classes 0..3 come first → rank 4: top-5 hit, top-1 miss; pred 0
      1, 1, 1, 1, 1, 1, 1,
      // img3 gt 0: ties at 4 with class 5; 0 < 5 so 0 ranks first → rank 0: top-1 hit; pred 0
      4, 0, 0, 0, 0, 4, 0,
    ]),
    labels: Int32Array.from([4, 0]),
  };

  it('top-1 = 2/4, top-5 = 4/4 (ties: lower index first); top-2 = 2/4, top-4 = 3/4', () => {
    const ev = new ClassificationEvaluator(names, { topK: [2, 4] });
    ev.update(batch1.logits, batch1.labels);
    ev.update(batch2.logits, batch2.labels);
    const r = ev.compute();
    expect(r.count).to.equal(4);
    expect(r.top1).to.equal(0.5);
    expect(r.top5).to.equal(1);
    // ranks: 0, 3, 4, 0 → top-2 hits {0, 0} = 2; top-4 hits {0, 3, 0} = 3
    expect(r.topK).to.deep.equal({ 1: 0.5, 2: 0.5, 4: 0.75, 5: 1 });
  });

  it('confusion (rows = gt, cols = argmax with lowest index on ties) and per-class accuracy', () => {
    const ev = new ClassificationEvaluator(names);
    ev.update(batch1.logits, batch1.labels);
    ev.update(batch2.logits, batch2.labels);
    const r = ev.compute();
    const expected = names.map(() => names.map(() => 0));
    expected[2][2] = 1; // img0
    expected[3][0] = 1; // img1
    expected[4][0] = 1; // img2 (all tied → class 0)
    expected[0][0] = 1; // img3 (tie 0/5 → class 0)
    expect(r.confusion).to.deep.equal(expected);
    expect(r.perClassCount).to.deep.equal([1, 0, 1, 1, 1, 0, 0]);
    expect(r.perClassAccuracy).to.deep.equal([1, null, 1, 0, 0, null, null]);
    expect(r.meanClassAccuracy).to.equal(0.5);
  });

  it('k capped at K: with K = 3, top-5 is always 1', () => {
    const ev = new ClassificationEvaluator(['a', 'b', 'c']);
    ev.update([0, 1, 2, 5, 1, 0], [0, 2]); // img0 gt 0 is last (rank 2), img1 gt 2 is last (rank 2)
    const r = ev.compute();
    expect([r.top1, r.top5]).to.deep.equal([0, 1]);
  });

  it('reset, bad shapes, labels and NaN', () => {
    const ev = new ClassificationEvaluator(['a', 'b']);
    expect(() => ev.update([0, 1, 2], [0, 1])).to.throw(/logits has 3 values, expected N\*K = 2\*2/);
    expect(() => ev.update([0, 1], [2])).to.throw(/row 0 has label 2, expected an integer in 0..1/);
    expect(() => ev.update([0, NaN], [0])).to.throw(/row 0 class 1 logit is NaN/);
    ev.update([1, 0], [0]);
    expect(ev.compute().top1).to.equal(1);
    ev.reset();
    ev.update([1, 0], [1]);
    expect(ev.compute()).to.deep.include({ count: 1, top1: 0 });
  });

  it('format: header with accuracies, one row per class, then the confusion matrix with its rows', () => {
    const ev = new ClassificationEvaluator(['ants', 'bees']);
    ev.update([2, 1, 0, 3, 5, 4], [0, 1, 1]); // ants→ants, bees→bees, bees→ants
    const lines = ev.format(ev.compute()).split('\n');
    expect(lines[0]).to.equal('images: 3   top-1: 66.67%   top-5: 100.00%   mean class accuracy: 75.00%');
    expect(lines[3].split(/\s+/)).to.deep.equal(['ants', '1', '100.00']);
    expect(lines[4].split(/\s+/)).to.deep.equal(['bees', '2', '50.00']);
    expect(lines[6]).to.equal('confusion matrix (rows: ground truth, columns: prediction)');
    expect(lines[7].trim().split(/\s+/)).to.deep.equal(['ants', 'bees']);
    expect(lines[8].split(/\s+/)).to.deep.equal(['ants', '1', '0']);
    expect(lines[9].split(/\s+/)).to.deep.equal(['bees', '1', '1']);
  });
});
