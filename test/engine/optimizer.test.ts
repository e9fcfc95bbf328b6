import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { clipGradNorm, clipGradValue } from '../../src/engine/grad_clip';
import { SgdOptimizer, SgdOptions, weightDecayGroups, withLrMult } from '../../src/engine/optimizer';
import { BatchNorm2d, Linear } from '../../src/nn/layers';
import { resnet18 } from '../../src/backbone/resnet';
import { ResNetClassifier } from '../../heads/classification/model';
import { ForwardContext, Module } from '../../src/nn/module';
import { SeedSequence } from '../../src/common/seed';
import { expectNoLeak } from '../helpers/tensors';

// Three fixed gradients applied to p0 = [1, -2]; lr = 0.1 throughout.
const P0 = [1, -2];
const GRADS = [
  [0.5, 1],
  [-1, 0.5],
  [0.25, -0.5],
];

/** Run three SgdOptimizer steps and return [params, momentum buffer] after each step. */
async function threeSteps(opts: Omit<SgdOptions, 'lr'>): Promise<{ p: number[][]; buf: (number[] | undefined)[] }> {
  const p = tf.variable(tf.tensor1d(P0));
  const opt = new SgdOptimizer([['w', p]], { lr: 0.1, ...opts });
  const out = { p: [] as number[][], buf: [] as (number[] | undefined)[] };
  for (const g of GRADS) {
    const gt = tf.tensor1d(g);
    opt.step({ w: gt });
    gt.dispose();
    out.p.push(Array.from(await p.data()));
    const b = opt.state()['w.momentum_buffer'];
    out.buf.push(b ? Array.from(await b.data()) : undefined);
  }
  opt.dispose();
  p.dispose();
  return out;
}

/** float32 storage: compare with a tolerance of a few ulps of values ~2 (2^-22 ≈ 2.4e-7 per ulp). */
function expectRows(actual: number[][], expected: number[][]): void {
  expect(actual.length).to.equal(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(v, `step ${i + 1} [${j}]`).to.be.closeTo(expected[i][j], 1e-6)));
}

describe('SgdOptimizer', () => {
  it('plain SGD (momentum 0): p -= lr·g', async () => {
    // p1 = [1 - 0.05, -2 - 0.1] = [0.95, -2.1]; p2 = p1 - 0.1·[-1, 0.5] = [1.05, -2.15]; p3 = [1.025, -2.1]
    const r = await threeSteps({});
    expectRows(r.p, [
      [0.95, -2.1],
      [1.05, -2.15],
      [1.025, -2.1],
    ]);
    expect(r.buf.every((b) => b === undefined)).to.equal(true);
  });

  it('momentum 0.9, coupled weight decay 0.01 (torch.optim.SGD default)', async () => {
    // step 1: d = g + 0.01·p = [0.5 + 0.01, 1 - 0.02] = [0.51, 0.98]; buf = d (first step: clone, no dampening)
    //         p = [1 - 0.051, -2 - 0.098] = [0.949, -2.098]
    // step 2: d = [-1 + 0.00949, 0.5 - 0.02098] = [-0.99051, 0.47902]
    //         buf = 0.9·[0.51, 0.98] + d = [0.459 - 0.99051, 0.882 + 0.47902] = [-0.53151, 1.36102]
    //         p = [0.949 + 0.053151, -2.098 - 0.136102] = [1.002151, -2.234102]
    // step 3: d = [0.25 + 0.01002151, -0.5 - 0.02234102] = [0.26002151, -0.52234102]
    //         buf = 0.9·buf + d = [-0.478359 + 0.26002151, 1.224918 - 0.52234102] = [-0.21833749, 0.70257698]
    //         p = [1.002151 + 0.021833749, -2.234102 - 0.070257698] = [1.023984749, -2.304359698]
    const r = await threeSteps({ momentum: 0.9, weightDecay: 0.01 });
    expectRows(r.p, [
      [0.949, -2.098],
      [1.002151, -2.234102],
      [1.023984749, -2.304359698],
    ]);
    expectRows(r.buf as number[][], [
      [0.51, 0.98],
      [-0.53151, 1.36102],
      [-0.21833749, 0.70257698],
    ]);
  });

  it('dampening 0.5 applies from the second step on (the first buffer is the gradient itself)', async () => {
    // step 1: buf = g = [0.5, 1]; p = [0.95, -2.1]
    // step 2: buf = 0.9·[0.5, 1] + 0.5·[-1, 0.5] = [-0.05, 1.15]; p = [0.955, -2.215]
    // step 3: buf = 0.9·[-0.05, 1.15] + 0.5·[0.25, -0.5] = [0.08, 0.785]; p = [0.947, -2.2935]
    const r = await threeSteps({ momentum: 0.9, dampening: 0.5 });
    expectRows(r.p, [
      [0.95, -2.1],
      [0.955, -2.215],
      [0.947, -2.2935],
    ]);
    expectRows(r.buf as number[][], [
      [0.5, 1],
      [-0.05, 1.15],
      [0.08, 0.785],
    ]);
  });

  it('nesterov: step direction d + μ·buf', async () => {
    // step 1: d = [0.51, 0.98], buf = d, direction = d + 0.9·buf = [0.969, 1.862]; p = [0.9031, -2.1862]
    // step 2: d = [-1 + 0.009031, 0.5 - 0.021862] = [-0.990969, 0.478138]
    //         buf = 0.9·[0.51, 0.98] + d = [-0.531969, 1.360138]
    //         direction = d + 0.9·buf = [-1.4697411, 1.7022622]; p = [1.05007411, -2.35642622]
    // step 3: d = [0.25 + 0.0105007411, -0.5 - 0.0235642622] = [0.2605007411, -0.5235642622]
    //         buf = 0.9·buf + d = [-0.2182713589, 0.7005599378]
    //         direction = d + 0.9·buf = [0.06405651809, 0.10693968182]; p = [1.043668458191, -2.367120188182]
    const r = await threeSteps({ momentum: 0.9, weightDecay: 0.01, nesterov: true });
    expectRows(r.p, [
      [0.9031, -2.1862],
      [1.05007411, -2.35642622],
      [1.043668458191, -2.367120188182],
    ]);
  });

  it('decoupled weight decay (SGDW): p = p·(1 − lr·wd) − lr·buf, decay kept out of the buffer', async () => {
    // step 1: buf = g = [0.5, 1]; p = [1·0.999 - 0.05, -2·0.999 - 0.1] = [0.949, -2.098]
    // step 2: buf = 0.9·[0.5, 1] + [-1, 0.5] = [-0.55, 1.4]
    //         p = [0.949·0.999 + 0.055, -2.098·0.999 - 0.14] = [1.003051, -2.235902]
    // step 3: buf = 0.9·[-0.55, 1.4] + [0.25, -0.5] = [-0.245, 0.76]
    //         p = [1.003051·0.999 + 0.0245, -2.235902·0.999 - 0.076] = [1.026547949, -2.309666098]
    const r = await threeSteps({ momentum: 0.9, weightDecay: 0.01, weightDecayMode: 'decoupled' });
    expectRows(r.p, [
      [0.949, -2.098],
      [1.003051, -2.235902],
      [1.026547949, -2.309666098],
    ]);
    expectRows(r.buf as number[][], [
      [0.5, 1],
      [-0.55, 1.4],
      [-0.245, 0.76],
    ]);
  });

  it('state() / loadState(): two steps + export + import into a fresh optimizer = three uninterrupted steps', async () => {
    const full = await threeSteps({ momentum: 0.9, weightDecay: 0.01 });
    const p = tf.variable(tf.tensor1d(P0));
    const a = new SgdOptimizer([['w', p]], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    for (const g of GRADS.slice(0, 2)) tf.tidy(() => a.step({ w: tf.tensor1d(g) }));
    const saved = tf.tidy(() => Object.fromEntries(Object.entries(a.state()).map(([k, v]) => [k, v.clone()])));
    a.dispose();
    const b = new SgdOptimizer([['w', p]], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    b.loadState(saved);
    tf.dispose(saved);
    tf.tidy(() => b.step({ w: tf.tensor1d(GRADS[2]) }));
    expect(Array.from(await p.data())).to.deep.equal(full.p[2]);
    b.dispose();
    p.dispose();
  });

  it('loadState rejects an unknown key and a wrong shape, naming the key', () => {
    const p = tf.variable(tf.tensor1d(P0));
    const opt = new SgdOptimizer([['w', p]], { lr: 0.1, momentum: 0.9 });
    const bad = tf.zeros([3]);
    expect(() => opt.loadState({ 'v.momentum_buffer': bad })).to.throw(/'v.momentum_buffer'/);
    expect(() => opt.loadState({ 'w.momentum_buffer': bad })).to.throw(/'w.momentum_buffer' has shape \[3\]/);
    bad.dispose();
    opt.dispose();
    p.dispose();
  });

  it('rejects bad hyper-parameters and gradients', () => {
    const p = tf.variable(tf.tensor1d(P0));
    expect(() => new SgdOptimizer([['w', p]], { lr: 0.1, nesterov: true })).to.throw(/nesterov/);
    expect(() => new SgdOptimizer([['w', p]], { lr: -1 })).to.throw(/learning rate/);
    const opt = new SgdOptimizer([['w', p]], { lr: 0.1 });
    const g = tf.zeros([3]);
    expect(() => opt.step({ w: g })).to.throw(/gradient of 'w' has shape \[3\], parameter has \[2\]/);
    expect(() => opt.step({ u: g })).to.throw(/unknown parameter 'u'/);
    g.dispose();
    p.dispose();
  });

  it('accepts tf.variableGrads output keyed by tfjs variable name', async () => {
    const p = tf.variable(tf.tensor1d(P0));
    const opt = new SgdOptimizer([['w', p]], { lr: 0.1 });
    // loss = sum(p²) / 2 → grad = p = [1, -2]; p ← p − 0.1·p = [0.9, -1.8]
    const { value, grads } = tf.variableGrads(() => tf.mul(tf.sum(tf.square(p)), 0.5) as tf.Scalar, [p]);
    opt.step(grads);
    tf.dispose([value, grads]);
    const got = Array.from(await p.data());
    expect(got[0]).to.be.closeTo(0.9, 1e-7);
    expect(got[1]).to.be.closeTo(-1.8, 1e-7);
    p.dispose();
  });

  it('no leak: steps reuse one buffer per parameter', async () => {
    const p = tf.variable(tf.tensor1d(P0));
    const opt = new SgdOptimizer([['w', p]], { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true });
    const g = tf.tensor1d([0.1, 0.2]);
    opt.step({ w: g }); // creates the buffer
    await expectNoLeak(() => opt.step({ w: g }));
    opt.dispose();
    g.dispose();
    p.dispose();
  });
});

interface SgdGolden {
  shapes: Record<string, number[]>;
  lrs: number[];
  init: Record<string, number[]>;
  grads: Record<string, number[]>[];
  cases: {
    name: string;
    momentum: number;
    dampening: number;
    nesterov: boolean;
    weightDecay: number;
    groupWeightDecay?: Record<string, number>;
    clipMaxNorm?: number;
    steps: { params: Record<string, number[]>; momentumBuffers?: Record<string, number[]>; totalNorm?: number }[];
  }[];
}

describe('SgdOptimizer lrMult (per-group learning-rate multiplier)', () => {
  /**
   * Two parameters from P0 under the same three gradients, optimizer lr 0.01: 'a' in a group with lrMult 10 (group lr
   * 0.1), 'b' with lrMult 1. 'a' must follow the hand-derived lr-0.1 trajectories of the tests above exactly; 'b'
   * the same rules at lr 0.01.
   */
  async function twoGroups(opts: Omit<SgdOptions, 'lr'>): Promise<{ a: number[][]; b: number[][] }> {
    const a = tf.variable(tf.tensor1d(P0));
    const b = tf.variable(tf.tensor1d(P0));
    const opt = new SgdOptimizer([{ params: [['a', a]], lrMult: 10 }, { params: [['b', b]] }], { lr: 0.01, ...opts });
    expect([opt.lrMultOf('a'), opt.lrMultOf('b')]).to.deep.equal([10, 1]);
    const out = { a: [] as number[][], b: [] as number[][] };
    for (const g of GRADS) {
      const ga = tf.tensor1d(g);
      const gb = tf.tensor1d(g);
      opt.step({ a: ga, b: gb });
      tf.dispose([ga, gb]);
      out.a.push(Array.from(await a.data()));
      out.b.push(Array.from(await b.data()));
    }
    opt.dispose();
    tf.dispose([a, b]);
    return out;
  }

  it('plain SGD: lrMult 10 at lr 0.01 = lr 0.1; lrMult 1 steps with 0.01', async () => {
    const r = await twoGroups({});
    expectRows(r.a, [
      [0.95, -2.1],
      [1.05, -2.15],
      [1.025, -2.1],
    ]);
    // b: p1 = [1 - 0.005, -2 - 0.01]; p2 = p1 - 0.01·[-1, 0.5] = [1.005, -2.015]; p3 = p2 - 0.01·[0.25, -0.5]
    expectRows(r.b, [
      [0.995, -2.01],
      [1.005, -2.015],
      [1.0025, -2.01],
    ]);
  });

  it('momentum 0.9 + coupled weight decay 0.01: the momentum buffer is lr-free, the step uses lr·lrMult', async () => {
    const r = await twoGroups({ momentum: 0.9, weightDecay: 0.01 });
    expectRows(r.a, [
      [0.949, -2.098],
      [1.002151, -2.234102],
      [1.023984749, -2.304359698],
    ]);
    // b, lr 0.01: step 1: d = buf = [0.51, 0.98]; p = [0.9949, -2.0098]
    // step 2: d = [-1 + 0.009949, 0.5 - 0.020098] = [-0.990051, 0.479902]; buf = [0.459 - 0.990051, 0.882 + 0.479902]
    //         = [-0.531051, 1.361902]; p = [0.9949 + 0.00531051, -2.0098 - 0.01361902] = [1.00021051, -2.02341902]
    // step 3: d = [0.25 + 0.0100021051, -0.5 - 0.0202341902] = [0.2600021051, -0.5202341902]
    //         buf = [-0.4779459 + 0.2600021051, 1.2257118 - 0.5202341902] = [-0.2179437949, 0.7054776098]
    //         p = [1.00021051 + 0.002179437949, -2.02341902 - 0.007054776098] = [1.002389947949, -2.030473796098]
    expectRows(r.b, [
      [0.9949, -2.0098],
      [1.00021051, -2.02341902],
      [1.002389947949, -2.030473796098],
    ]);
  });

  it('decoupled weight decay shrinks by lr·lrMult·wd (torch: the group lr)', async () => {
    const r = await twoGroups({ momentum: 0.9, weightDecay: 0.01, weightDecayMode: 'decoupled' });
    expectRows(r.a, [
      [0.949, -2.098],
      [1.003051, -2.235902],
      [1.026547949, -2.309666098],
    ]);
  });

  it('rejects lrMult 0, negative or non-finite, naming it', () => {
    const p = tf.variable(tf.tensor1d(P0));
    for (const m of [0, -1, Infinity, NaN]) {
      expect(() => new SgdOptimizer([{ params: [['w', p]], lrMult: m }], { lr: 0.1 })).to.throw(/group lrMult must be a finite number > 0/);
    }
    p.dispose();
  });

  it('withLrMult splits weight-decay groups, keeping their decay and order; no leak in steps', async () => {
    const m = new Tiny();
    const groups = withLrMult(weightDecayGroups(m, { weightDecay: 1e-4, normWeightDecay: 0 }), (n) => n.startsWith('fc2.') || n === 'bn1.bias', 10);
    expect(groups.map((g) => [g.weightDecay, g.lrMult ?? 1, g.params.map(([n]) => n)])).to.deep.equal([
      [1e-4, 1, ['fc1.weight', 'fc1.bias']],
      [1e-4, 10, ['fc2.weight']],
      [0, 1, ['bn1.weight']],
      [0, 10, ['bn1.bias']],
    ]);
    expect(() => withLrMult(groups, () => true, 0)).to.throw(/lrMult must be a finite number > 0/);
    const opt = new SgdOptimizer(groups, { lr: 0.1, momentum: 0.9 });
    expect(['fc1.weight', 'fc2.weight', 'bn1.weight', 'bn1.bias'].map((n) => [opt.lrMultOf(n), opt.weightDecayOf(n)])).to.deep.equal([
      [1, 1e-4], [10, 1e-4], [1, 0], [10, 0],
    ]);
    const grads = Object.fromEntries(m.trainableParameters().map(([n, v]) => [n, tf.onesLike(v)]));
    opt.step(grads);
    await expectNoLeak(() => opt.step(grads));
    tf.dispose(Object.values(grads));
    opt.dispose();
    m.dispose();
  });
});

describe('SgdOptimizer parity with torch.optim.SGD (test/golden/sgd_optim.json)', () => {
  const golden = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', 'golden', 'sgd_optim.json'), 'utf8'),
  ) as SgdGolden;
  for (const c of golden.cases) {
    it(`${c.name}: 4 steps with a changing lr`, async () => {
      const names = Object.keys(golden.shapes);
      const vars = names.map((n) => tf.variable(tf.tensor(golden.init[n], golden.shapes[n])));
      const groups = names.map((n, i) => ({
        params: [[n, vars[i]]] as [string, tf.Variable][],
        weightDecay: c.groupWeightDecay?.[n] ?? c.weightDecay,
      }));
      const opt = new SgdOptimizer(groups, { lr: golden.lrs[0], momentum: c.momentum, dampening: c.dampening, nesterov: c.nesterov });
      let worst = 0;
      for (let s = 0; s < golden.lrs.length; s++) {
        opt.lr = golden.lrs[s];
        const grads = Object.fromEntries(names.map((n) => [n, tf.tensor(golden.grads[s][n], golden.shapes[n])]));
        if (c.clipMaxNorm !== undefined) {
          const r = clipGradNorm(grads, c.clipMaxNorm);
          // float32 norms of 10 values ~1: a few ulps
          expect((await r.totalNorm.data())[0]).to.be.closeTo(c.steps[s].totalNorm!, 1e-6);
          opt.step(r.grads);
          tf.dispose([r.grads, r.totalNorm]);
        } else opt.step(grads);
        tf.dispose(grads);
        const want = c.steps[s];
        for (let i = 0; i < names.length; i++) {
          const got = await vars[i].data();
          want.params[names[i]].forEach((v, j) => (worst = Math.max(worst, Math.abs(got[j] - v))));
          if (want.momentumBuffers) {
            const buf = await opt.state()[names[i] + '.momentum_buffer'].data();
            want.momentumBuffers[names[i]].forEach((v, j) => (worst = Math.max(worst, Math.abs(buf[j] - v))));
          }
        }
      }
      // Same float32 operations as torch's, but torch fuses `p + alpha·d` (one rounding instead of two): measured
      // worst 1.2e-7 (1 ulp at magnitude 1..2); allow 4 ulps.
      expect(worst).to.be.at.most(5e-7);
      opt.dispose();
      tf.dispose(vars);
    });
  }
});

/** conv-free toy: Linear → BatchNorm over a [N, 1, 1, C] view → Linear. */
class Tiny extends Module {
  readonly fc1: Linear;
  readonly bn1: BatchNorm2d;
  readonly fc2: Linear;
  constructor() {
    super();
    const seeds = new SeedSequence(0);
    this.fc1 = this.registerModule('fc1', new Linear({ inFeatures: 2, outFeatures: 3, seeds }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d({ numFeatures: 3 }));
    this.fc2 = this.registerModule('fc2', new Linear({ inFeatures: 3, outFeatures: 1, bias: false, seeds }));
  }
  forward(x: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const h = this.bn1.forward(tf.reshape(this.fc1.forward(x), [-1, 1, 1, 3]) as tf.Tensor4D, ctx);
      return this.fc2.forward(tf.reshape(h, [-1, 3]));
    });
  }
}

describe('weightDecayGroups', () => {
  it('torchvision set_weight_decay: bias rule first, then norm modules by type, then the rest', () => {
    const m = new Tiny();
    const names = (gs: ReturnType<typeof weightDecayGroups>) => gs.map((g) => [g.weightDecay, g.params.map(([n]) => n)]);
    expect(names(weightDecayGroups(m, { weightDecay: 1e-4 }))).to.deep.equal([
      [1e-4, ['fc1.weight', 'fc1.bias', 'bn1.weight', 'bn1.bias', 'fc2.weight']],
    ]);
    expect(names(weightDecayGroups(m, { weightDecay: 1e-4, normWeightDecay: 0 }))).to.deep.equal([
      [1e-4, ['fc1.weight', 'fc1.bias', 'fc2.weight']],
      [0, ['bn1.weight', 'bn1.bias']],
    ]);
    expect(names(weightDecayGroups(m, { weightDecay: 1e-4, normWeightDecay: 0, biasWeightDecay: 1e-5 }))).to.deep.equal([
      [1e-4, ['fc1.weight', 'fc2.weight']],
      [0, ['bn1.weight']],
      [1e-5, ['fc1.bias', 'bn1.bias']],
    ]);
    const opt = new SgdOptimizer(weightDecayGroups(m, { weightDecay: 1e-4, normWeightDecay: 0 }), { lr: 0.1 });
    expect(opt.weightDecayOf('bn1.bias')).to.equal(0);
    expect(opt.weightDecayOf('fc1.bias')).to.equal(1e-4);
    m.dispose();
  });
});

describe('weightDecayGroups on a torchvision-named ResNet-18 classifier', () => {
  it('40 BatchNorm parameters (bn1, 2 per block x 8, downsample.1 x 3, each weight+bias) get normWeightDecay', () => {
    const m = new ResNetClassifier(resnet18({ seed: 1 }), 7, 1);
    const [other, norm] = weightDecayGroups(m, { weightDecay: 1e-4, normWeightDecay: 0 });
    const names = (g: { params: [string, tf.Variable][] }) => g.params.map(([n]) => n);
    // 20 conv weights (conv1, 16 in blocks, 3 downsample.0) + fc.weight + fc.bias = 22
    expect(other.params).to.have.length(22);
    expect(norm.params).to.have.length(40);
    expect(names(norm)).to.include.members(['bn1.weight', 'layer1.0.bn2.bias', 'layer2.0.downsample.1.weight']);
    expect(names(other)).to.include.members(['conv1.weight', 'layer2.0.downsample.0.weight', 'fc.weight', 'fc.bias']);
    m.dispose();
  });
});

describe('clipGradNorm / clipGradValue', () => {
  it('2-norm: ‖([3, 4], [12])‖ = 13, maxNorm 6.5 scales by 6.5 / (13 + 1e-6)', async () => {
    const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor1d([12]) };
    const { grads: out, totalNorm } = clipGradNorm(grads, 6.5);
    expect(await totalNorm.data()).to.deep.equal(new Float32Array([13]));
    const c = 6.5 / (13 + 1e-6);
    expect(Array.from(await out.a.data())[0]).to.be.closeTo(3 * c, 1e-6);
    expect(Array.from(await out.a.data())[1]).to.be.closeTo(4 * c, 1e-6);
    expect(Array.from(await out.b.data())[0]).to.be.closeTo(12 * c, 1e-6);
    tf.dispose([out, totalNorm]);
    // Under the bound the coefficient clamps to 1: gradients unchanged.
    const r = clipGradNorm(grads, 20);
    expect(Array.from(await r.grads.b.data())).to.deep.equal([12]);
    tf.dispose([r.grads, r.totalNorm]);
    await expectNoLeak(() => {
      const x = clipGradNorm(grads, 1);
      tf.dispose([x.grads, x.totalNorm]);
    });
    tf.dispose(grads);
  });

  it("inf-norm: max |g| = 12; maxNorm 6 → scale 6 / (12 + 1e-6)", async () => {
    const grads = { a: tf.tensor1d([3, -4]), b: tf.tensor1d([-12]) };
    const { grads: out, totalNorm } = clipGradNorm(grads, 6, 'inf');
    expect((await totalNorm.data())[0]).to.equal(12);
    expect((await out.b.data())[0]).to.be.closeTo((-12 * 6) / (12 + 1e-6), 1e-6);
    tf.dispose([grads, out, totalNorm]);
  });

  it('value: clamp to [-5, 5]', async () => {
    const grads = { a: tf.tensor1d([3, -7]), b: tf.tensor1d([12]) };
    const out = clipGradValue(grads, 5);
    expect(Array.from(await out.a.data())).to.deep.equal([3, -5]);
    expect(Array.from(await out.b.data())).to.deep.equal([5]);
    tf.dispose([grads, out]);
    expect(() => clipGradValue({}, 0)).to.throw(/clipValue must be > 0/);
  });
});
