import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import { readJsonl } from '../../src/engine/logger';
import { LineProgress } from '../../src/engine/progress';
import { LrSchedule } from '../../src/engine/lr_schedule';
import { SgdOptimizer } from '../../src/engine/optimizer';
import { SeedSequence } from '../../src/common/seed';
import {
  BatchSource,
  CheckpointIO,
  CheckpointWriteError,
  LAST_CHECKPOINT_FILE,
  NonFiniteLossError,
  StepContext,
  Trainer,
  TrainerOptions,
  TrainingCheckpoint,
  TrainingCheckpointMeta,
  safetensorsCheckpointIO,
  skippingBatchSource,
  stepSeed,
} from '../../src/engine/trainer';
import { resnet18 } from '../../src/backbone/resnet';
import { weightDecayGroups } from '../../src/engine/optimizer';
import { BatchNorm2d, Conv2d, Linear } from '../../src/nn/layers';
import { ResNetClassifier } from '../../heads/classification/model';
import { ForwardContext, Module } from '../../src/nn/module';
import { seededFloats } from '../helpers/tensors';

/** Batch of the toy task: 8x8 RGB images and labels in {0, 1}. */
interface ToyBatch {
  images: tf.Tensor4D; // [N, 8, 8, 3]
  labels: tf.Tensor1D; // [N] int32
}

const BATCH = 8;
const BATCHES_PER_EPOCH = 4;

/**
 * A learnable toy task: noise in [-1, 1) plus +0.75 on channel 0 for class 1 and -0.75 for class 0. Each batch is a
 * pure function of (epoch, batch index), as a seeded data loader's.
 */
function toyBatchData(epoch: number, index: number): { images: Float32Array; labels: Int32Array } {
  const images = seededFloats(BATCH * 8 * 8 * 3, 1000 * epoch + index + 1);
  const labels = new Int32Array(BATCH);
  for (let n = 0; n < BATCH; n++) {
    labels[n] = (n + index + epoch) % 2;
    for (let p = 0; p < 64; p++) images[(n * 64 + p) * 3] += labels[n] === 1 ? 0.75 : -0.75;
  }
  return { images, labels };
}

const toySource: BatchSource<ToyBatch> = {
  async *epochBatches(epoch: number, startBatch: number) {
    for (let i = startBatch; i < BATCHES_PER_EPOCH; i++) {
      const d = toyBatchData(epoch, i);
      yield { images: tf.tensor4d(d.images, [BATCH, 8, 8, 3]), labels: tf.tensor1d(d.labels, 'int32') };
    }
  },
};

/** BatchNorm on the input → Conv 3x3 → BatchNorm → ReLU → global average pool → Linear(4 → 2). */
class ToyNet extends Module {
  readonly bn0: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly fc: Linear;
  constructor(seed: number) {
    super();
    const seeds = new SeedSequence(seed);
    this.bn0 = this.registerModule('bn0', new BatchNorm2d({ numFeatures: 3 }));
    this.conv1 = this.registerModule('conv1', new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, bias: false, seeds }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d({ numFeatures: 4 }));
    this.fc = this.registerModule('fc', new Linear({ inFeatures: 4, outFeatures: 2, seeds }));
  }
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const h = tf.relu(this.bn1.forward(this.conv1.forward(this.bn0.forward(x, ctx)), ctx));
      return this.fc.forward(tf.mean(h, [1, 2]) as tf.Tensor2D);
    });
  }
  computeLosses(b: ToyBatch, ctx: ForwardContext): { classification: tf.Scalar } {
    return tf.tidy(() => ({ classification: tf.losses.softmaxCrossEntropy(tf.oneHot(b.labels, 2), this.forward(b.images, ctx)) as tf.Scalar }));
  }
}

/** A checkpoint store in memory: copies of every state tensor, keyed by file name. */
class MemoryCheckpoints implements CheckpointIO {
  readonly files = new Map<string, { model: Record<string, tf.Tensor>; optimizer: Record<string, tf.Tensor>; meta: string }>();
  async save(file: string, ckpt: TrainingCheckpoint): Promise<void> {
    const model: Record<string, tf.Tensor> = {};
    for (const e of ckpt.model.stateEntries()) model[e.name] = tf.clone(e.variable);
    const optimizer: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(ckpt.optimizerState)) optimizer[k] = tf.clone(v);
    const old = this.files.get(file);
    if (old) tf.dispose([old.model, old.optimizer]);
    this.files.set(file, { model, optimizer, meta: JSON.stringify(ckpt.meta) });
  }
  async load(file: string, m: Module): Promise<{ optimizerState: Record<string, tf.Tensor>; meta: TrainingCheckpointMeta }> {
    const f = this.files.get(file);
    if (!f) throw new Error(`${file}: no such checkpoint`);
    for (const e of m.stateEntries()) e.variable.assign(f.model[e.name]);
    const optimizerState: Record<string, tf.Tensor> = {};
    for (const [k, v] of Object.entries(f.optimizer)) optimizerState[k] = tf.clone(v);
    return { optimizerState, meta: JSON.parse(f.meta) as TrainingCheckpointMeta };
  }
  dispose(): void {
    for (const f of this.files.values()) tf.dispose([f.model, f.optimizer]);
    this.files.clear();
  }
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'resvision-trainer-'));
}

const SCHEDULE: LrSchedule = { baseLr: 0.1, maxIter: 12, main: { kind: 'cosine' }, warmup: { iters: 3, factor: 0.1 } };

/** A trainer on a fresh ToyNet(seed 7) with the options most tests share. */
function makeTrainer(
  extra: Partial<TrainerOptions<ToyBatch>> = {},
): { trainer: Trainer<ToyBatch>; model: ToyNet; optimizer: SgdOptimizer } {
  const model = new ToyNet(7);
  const optimizer = new SgdOptimizer(model.trainableParameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const trainer = new Trainer<ToyBatch>({
    model,
    computeLosses: (b, ctx) => model.computeLosses(b, ctx),
    data: toySource,
    optimizer,
    schedule: SCHEDULE,
    seed: 3,
    logEveryIters: 1,
    quiet: true,
    ...extra,
  });
  return { trainer, model, optimizer };
}

const trainLosses = (records: readonly Record<string, unknown>[]): number[] =>
  records.filter((r) => r.type === 'train').map((r) => r.totalLoss as number);

describe('Trainer', () => {
  it('BatchNorm running statistics updated inside tf.variableGrads equal the batch statistics (momentum 0.1)', async () => {
    const model = new ToyNet(7);
    const optimizer = new SgdOptimizer(model.trainableParameters(), { lr: 0 });
    const trainer = new Trainer<ToyBatch>({
      model,
      computeLosses: (b, ctx) => model.computeLosses(b, ctx),
      data: toySource,
      optimizer,
      schedule: { baseLr: 0, maxIter: 1, main: { kind: 'constant' } },
      seed: 3,
      quiet: true,
    });
    await trainer.train();
    // bn0 sees the raw batch: running_mean = 0.9·0 + 0.1·mean, running_var = 0.9·1 + 0.1·unbiased variance,
    // per channel over N·H·W = 512 values, computed here in float64 from the batch's own numbers.
    const { images } = toyBatchData(0, 0);
    const mean = [0, 0, 0];
    const sq = [0, 0, 0];
    const n = images.length / 3;
    for (let i = 0; i < images.length; i++) mean[i % 3] += images[i] / n;
    for (let i = 0; i < images.length; i++) sq[i % 3] += (images[i] - mean[i % 3]) ** 2;
    const runningMean = await model.bn0.runningMean.data();
    const runningVar = await model.bn0.runningVar.data();
    for (let c = 0; c < 3; c++) {
      // float32 moments over 512 values: relative error ~1e-6
      expect(runningMean[c]).to.be.closeTo(0.1 * mean[c], 1e-6);
      expect(runningVar[c]).to.be.closeTo(0.9 + (0.1 * sq[c]) / (n - 1), 1e-6);
    }
    trainer.dispose();
    model.dispose();
  });

  it('learns the toy task: mean loss of the last 4 of 24 steps < half of the first 4', async () => {
    const { trainer, model } = makeTrainer({ schedule: { ...SCHEDULE, maxIter: 24 } });
    const result = await trainer.train();
    expect(result).to.deep.equal({ status: 'completed', nextIteration: 24, lastCheckpoint: undefined });
    const losses = trainLosses(trainer.records);
    expect(losses).to.have.length(24);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(losses.slice(-4))).to.be.lessThan(0.5 * mean(losses.slice(0, 4)));
    trainer.dispose();
    model.dispose();
  });

  it('is deterministic: two runs with the same seed log identical losses, lrs and gradient norms', async () => {
    const runs: Record<string, unknown>[][] = [];
    for (let r = 0; r < 2; r++) {
      const { trainer, model } = makeTrainer({ gradClip: { kind: 'norm', maxNorm: 1 } });
      await trainer.train();
      runs.push(trainer.records.filter((x) => x.type === 'train').map((x) => ({ l: x.losses, lr: x.lr, g: x.gradNorm })));
      trainer.dispose();
      model.dispose();
    }
    expect(runs[0]).to.have.length(12);
    expect(runs[0].every((x) => typeof x.g === 'number' && (x.g as number) > 0)).to.equal(true);
    expect(runs[1]).to.deep.equal(runs[0]);
  });

  it('resume from a safetensors checkpoint after SIGINT mid-epoch continues exactly like the uninterrupted run', async () => {
    // Uninterrupted: 12 steps over 3 epochs of 4 batches.
    const full = makeTrainer();
    await full.trainer.train();
    const expected = trainLosses(full.trainer.records);
    const expectedFc = Array.from(await full.model.fc.weight.data());
    full.trainer.dispose();
    full.model.dispose();

    // Interrupted by SIGINT after 7 steps (epoch 1, batch 3 of 4), checkpoint, then a new process resumes.
    const dir = tmpDir();
    const io = safetensorsCheckpointIO;
    const listenersBefore = process.listenerCount('SIGINT');
    const a = makeTrainer({
      outputDir: dir,
      checkpoint: { io, everyIters: 5 },
      evaluation: {
        everyIters: 1,
        run: async (done) => {
          if (done === 7) process.emit('SIGINT');
          return {};
        },
      },
    });
    const stderrWrite = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write; // silence the SIGINT notice
    let first;
    try {
      first = await a.trainer.train();
    } finally {
      process.stderr.write = stderrWrite;
    }
    expect(process.listenerCount('SIGINT')).to.equal(listenersBefore);
    expect(first.status).to.equal('interrupted');
    expect(first.nextIteration).to.equal(7);
    expect(first.lastCheckpoint).to.equal(path.join(dir, 'model_0000007.safetensors'));
    expect(fs.readFileSync(path.join(dir, LAST_CHECKPOINT_FILE), 'utf8').trim()).to.equal('model_0000007.safetensors');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'))).to.deep.equal([
      'model_0000005.safetensors',
      'model_0000007.safetensors',
    ]);
    a.trainer.dispose();
    a.model.dispose();

    const b = makeTrainer({ outputDir: dir, checkpoint: { io, everyIters: 5 } });
    const meta = await b.trainer.resume();
    expect([meta.nextIteration, meta.epoch, meta.batchInEpoch, meta.reason]).to.deep.equal([7, 1, 3, 'interrupted']);
    const second = await b.trainer.train();
    expect(second.status).to.equal('completed');
    expect(second.lastCheckpoint).to.equal(path.join(dir, 'model_0000012.safetensors'));
    const resumed = trainLosses(b.trainer.records);
    // Bit-identical: same data, same state, same per-step seeds, same single-threaded kernels.
    expect(resumed).to.deep.equal(expected.slice(7));
    expect(Array.from(await b.model.fc.weight.data())).to.deep.equal(expectedFc);
    // The JSONL file holds both processes' records.
    const fileRecords = readJsonl(path.join(dir, 'metrics.jsonl'));
    expect(trainLosses(fileRecords)).to.deep.equal(expected);
    const rec = fileRecords.find((r) => r.type === 'train')!;
    expect(Object.keys(rec).sort()).to.deep.equal(
      ['dataTimeShare', 'epoch', 'itPerSec', 'iteration', 'losses', 'lr', 'timeSec', 'totalLoss', 'type'].sort(),
    );
    expect(rec.dataTimeShare as number).to.be.within(0, 1);
    expect(rec.lr).to.equal(0.1 * 0.1); // step 0: warmup factor 0.1, cosine at 0 = 1
    b.trainer.dispose();
    b.model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the final checkpoint before the final evaluation; atEnd: false skips only the evaluation after the last step', async () => {
    for (const atEnd of [true, false]) {
      const dir = tmpDir();
      const io = new MemoryCheckpoints();
      const seen: [number, string[]][] = [];
      const { trainer, model } = makeTrainer({
        outputDir: dir,
        checkpoint: { io, everyIters: 5 },
        evaluation: {
          everyIters: 4,
          atEnd,
          // Which checkpoints exist when each evaluation starts.
          run: async (done) => (seen.push([done, [...io.files.keys()].map((f) => path.basename(f))]), {}),
        },
      });
      await trainer.train();
      // 12 steps: periodic evaluations after 4 and 8 steps, checkpoints after 5, 10 and 12 (final).
      const after12 = atEnd ? [[12, ['model_0000005.safetensors', 'model_0000010.safetensors', 'model_0000012.safetensors']]] : [];
      expect(seen).to.deep.equal([[4, []], [8, ['model_0000005.safetensors']], ...after12]);
      const tail = trainer.records.filter((r) => r.type !== 'train').map((r) => `${r.type}@${r.iteration}${r.reason ? `:${r.reason}` : ''}`);
      expect(tail).to.deep.equal([
        'eval@3', 'checkpoint@4:periodic', 'eval@7', 'checkpoint@9:periodic', 'checkpoint@11:final', ...(atEnd ? ['eval@11'] : []),
      ]);
      trainer.dispose();
      model.dispose();
      io.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the tensor count flat across iterations, and back to the start after dispose', async () => {
    const counts: number[] = [];
    const before = tf.memory().numTensors;
    const { trainer, model } = makeTrainer({
      gradClip: { kind: 'norm', maxNorm: 1 },
      evaluation: {
        everyIters: 1,
        run: async () => {
          counts.push(tf.memory().numTensors);
          return {};
        },
      },
    });
    await trainer.train();
    // From step 1 on the momentum buffers exist: every later step must leave exactly as many tensors.
    expect(counts).to.have.length(12);
    expect(new Set(counts).size, `counts ${counts}`).to.equal(1);
    trainer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('one Ctrl-C delivered three times (terminal group + runners forwarding it) stops once, with a checkpoint', async () => {
    const dir = tmpDir();
    const kills: unknown[] = [];
    const kill = process.kill;
    process.kill = ((...a: unknown[]) => (kills.push(a), true)) as typeof process.kill;
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    const t = makeTrainer({
      outputDir: dir,
      checkpoint: { io: safetensorsCheckpointIO, everyIters: 100 },
      evaluation: {
        everyIters: 1,
        run: async (done) => {
          if (done === 3) for (let i = 0; i < 3; i++) process.emit('SIGINT');
          return {};
        },
      },
    });
    let r;
    try {
      r = await t.trainer.train();
    } finally {
      process.kill = kill;
      process.stderr.write = write;
    }
    expect(kills, 'no abort: the copies are the same press').to.deep.equal([]);
    expect([r.status, r.nextIteration, r.lastCheckpoint]).to.deep.equal(['interrupted', 3, path.join(dir, 'model_0000003.safetensors')]);
    t.trainer.dispose();
    t.model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a disk full while writing a checkpoint: names it and the last good one; nothing replaced, no temporary left', async () => {
    const dir = tmpDir();
    // Fail every FileHandle write with ENOSPC from the moment the evaluation after step 10 runs (just before the
    // checkpoint of step 10 is written): what a full disk does to writeSafetensors' temporary file.
    const probe = await fs.promises.open(path.join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => Promise<unknown> };
    await probe.close();
    fs.rmSync(path.join(dir, 'probe'));
    const realWrite = proto.write;
    let full = false;
    proto.write = function (this: unknown, ...args: unknown[]) {
      if (full) return Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }));
      return realWrite.apply(this, args);
    };
    const t = makeTrainer({
      outputDir: dir,
      checkpoint: { io: safetensorsCheckpointIO, everyIters: 5 },
      evaluation: { everyIters: 10, run: async () => ((full = true), {}) },
    });
    let err: unknown;
    try {
      await t.trainer.train();
    } catch (e) {
      err = e;
    } finally {
      proto.write = realWrite;
    }
    expect(err).to.be.instanceOf(CheckpointWriteError);
    expect((err as Error).message).to.equal(
      `could not write checkpoint ${path.join(dir, 'model_0000010.safetensors')}: the disk is full (ENOSPC: no space left on device, write); ` +
        `nothing was replaced. The last good checkpoint is ${path.join(dir, 'model_0000005.safetensors')}; ` +
        'free space and run again with --resume to continue from it.',
    );
    expect(fs.readdirSync(dir).sort()).to.deep.equal([LAST_CHECKPOINT_FILE, 'metrics.jsonl', 'model_0000005.safetensors']);
    expect(fs.readFileSync(path.join(dir, LAST_CHECKPOINT_FILE), 'utf8')).to.equal('model_0000005.safetensors\n');
    t.trainer.dispose();
    t.model.dispose();
    // The run resumes from the last good checkpoint once there is space.
    const b = makeTrainer({ outputDir: dir, checkpoint: { io: safetensorsCheckpointIO, everyIters: 5 } });
    expect((await b.trainer.resume()).nextIteration).to.equal(5);
    expect((await b.trainer.train()).lastCheckpoint).to.equal(path.join(dir, 'model_0000012.safetensors'));
    b.trainer.dispose();
    b.model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('temporaries left by a kill during a checkpoint write are swept on start and on resume, a live writer\'s kept', async () => {
    const dir = tmpDir();
    // pid 2^22 + 1 is above Linux's largest pid_max, so no process has it; the parent process is alive.
    const dead = '.model_0000005.safetensors.4194305.1a2b3c4d.tmp';
    const live = `.model_0000005.safetensors.${process.ppid}.0badf00d.tmp`;
    const unrelated = '.notes.tmp';
    for (const f of [dead, live, unrelated, `${LAST_CHECKPOINT_FILE}.tmp`]) fs.writeFileSync(path.join(dir, f), 'partial');
    const stderr: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((c: string) => (stderr.push(String(c)), true)) as typeof process.stderr.write;
    try {
      const a = makeTrainer({ outputDir: dir, checkpoint: { io: safetensorsCheckpointIO, everyIters: 5 }, schedule: { ...SCHEDULE, maxIter: 5 } });
      await a.trainer.train();
      a.trainer.dispose();
      a.model.dispose();
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).sort()).to.deep.equal([live, unrelated].sort());
      expect(stderr.join('')).to.contain(`removed 2 unfinished checkpoint file(s) left in ${dir} by an interrupted write: `);
      // A kill during the write of model_0000010 (this process's temporary, as a killed run's would be), then resume.
      const own = `.model_0000010.safetensors.${process.pid}.deadbeef.tmp`;
      fs.writeFileSync(path.join(dir, own), 'partial');
      const b = makeTrainer({ outputDir: dir, checkpoint: { io: safetensorsCheckpointIO, everyIters: 5 } });
      await b.trainer.resume();
      expect(fs.existsSync(path.join(dir, own))).to.equal(false);
      b.trainer.dispose();
      b.model.dispose();
    } finally {
      process.stderr.write = write;
    }
    expect(fs.existsSync(path.join(dir, live))).to.equal(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stops on a non-finite loss naming the iteration and term, keeping the last good checkpoint', async () => {
    const dir = tmpDir();
    const io = new MemoryCheckpoints();
    const model = new ToyNet(7);
    const optimizer = new SgdOptimizer(model.trainableParameters(), { lr: 0.1, momentum: 0.9 });
    const trainer = new Trainer<ToyBatch>({
      model,
      computeLosses: (b, ctx: StepContext) => ({
        ...model.computeLosses(b, ctx),
        aux: ctx.iteration === 4 ? tf.scalar(NaN) : tf.scalar(0),
      }),
      data: toySource,
      optimizer,
      schedule: SCHEDULE,
      seed: 3,
      outputDir: dir,
      checkpoint: { io, everyIters: 2 },
      quiet: true,
    });
    const before = tf.memory().numTensors;
    let err: unknown;
    try {
      await trainer.train();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(NonFiniteLossError);
    expect((err as Error).message).to.match(/^loss 'aux' is NaN at iteration 4 /);
    expect((err as Error).message).to.contain(`last good checkpoint is ${path.join(dir, 'model_0000004.safetensors')}`);
    expect(fs.readFileSync(path.join(dir, LAST_CHECKPOINT_FILE), 'utf8').trim()).to.equal('model_0000004.safetensors');
    expect(trainer.nextIteration).to.equal(4);
    // Steps 0..3 ran and were checkpointed as model_0000004; step 4 failed before its update, so the parameters
    // still equal that checkpoint's.
    const saved = io.files.get(path.join(dir, 'model_0000004.safetensors'))!;
    expect(Array.from(await model.fc.weight.data())).to.deep.equal(Array.from(await saved.model['fc.weight'].data()));
    expect(trainer.records.at(-1)).to.deep.include({ type: 'error', iteration: 4, term: 'aux' });
    expect(process.listenerCount('SIGINT')).to.equal(0);
    trainer.dispose();
    // What remains beyond the start is exactly the stored checkpoint copies.
    const held = [...io.files.values()].reduce((s, f) => s + Object.keys(f.model).length + Object.keys(f.optimizer).length, 0);
    expect(tf.memory().numTensors, 'no tensor left behind by the failed step').to.equal(before + held);
    model.dispose();
    io.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a ResNet-18 classifier (32x32, K=7) plugs in: one trainer step equals a hand-written SGD step on a twin model', async () => {
    const build = () => new ResNetClassifier(resnet18({ seed: 11 }), 7, 5, { labelSmoothing: 0.1 });
    const images = tf.tensor4d(seededFloats(2 * 32 * 32 * 3, 9), [2, 32, 32, 3]);
    const labels = tf.tensor1d([3, 6], 'int32');
    const lr = 0.05;
    const wd = 1e-4;
    // Twin: d = g + wd·p (coupled decay; BatchNorm parameters excluded by normWeightDecay 0), first momentum buffer
    // = d, p ← p − lr·d.
    const twin = build();
    const decay = new Map<string, number>();
    for (const g of weightDecayGroups(twin, { weightDecay: wd, normWeightDecay: 0 })) for (const [n] of g.params) decay.set(n, g.weightDecay!);
    const twinParams = twin.trainableParameters();
    const { value, grads } = tf.variableGrads(
      () => twin.computeLosses({ images, labels }, { training: true }).classification,
      twinParams.map(([, v]) => v),
    );
    const twinLoss = (await value.data())[0];
    const expected = new Map<string, Float32Array>();
    for (const [n, v] of twinParams) {
      expected.set(n, tf.tidy(() => tf.sub(v, tf.mul(tf.add(grads[v.name], tf.mul(v, decay.get(n)!)), lr)).dataSync() as Float32Array));
    }
    tf.dispose([value, grads]);
    twin.dispose();

    const model = build();
    const optimizer = new SgdOptimizer(weightDecayGroups(model, { weightDecay: wd, normWeightDecay: 0 }), { lr, momentum: 0.9 });
    const trainer = new Trainer<{ images: tf.Tensor4D; labels: tf.Tensor1D }>({
      model,
      computeLosses: (b, ctx) => model.computeLosses(b, ctx),
      data: { epochBatches: async function* () { yield { images: images.clone(), labels: labels.clone() }; } },
      optimizer,
      schedule: { baseLr: lr, maxIter: 1, main: { kind: 'constant' } },
      seed: 1,
      quiet: true,
    });
    await trainer.train();
    const rec = trainer.records.find((r) => r.type === 'train')!;
    expect(Object.keys(rec.losses as object)).to.deep.equal(['classification']);
    expect(rec.totalLoss).to.equal(twinLoss);
    for (const [n, v] of model.trainableParameters()) {
      // Same ops in the same order on the same backend: identical up to float32 rounding of lr·d (1 ulp).
      const got = await v.data();
      const want = expected.get(n)!;
      let m = 0;
      for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
      expect(m, n).to.be.at.most(1e-7);
    }
    trainer.dispose();
    model.dispose();
    tf.dispose([images, labels]);
  });

  it('skippingBatchSource resumes an epoch iterator at a batch, disposing the skipped ones', async () => {
    const loader = { epoch: (e: number) => toySource.epochBatches(e, 0) };
    const before = tf.memory().numTensors;
    const got: number[] = [];
    for await (const b of skippingBatchSource(loader).epochBatches(1, 3)) {
      got.push((await b.labels.data())[0]);
      tf.dispose(b as unknown as tf.TensorContainer);
    }
    // epoch 1 has batches 0..3; only batch 3 is served, whose first label is (0 + 3 + 1) % 2 = 0
    expect(got).to.deep.equal([0]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('stepSeed is a pure function of (seed, iteration) and differs between iterations', () => {
    expect(stepSeed(3, 5)).to.equal(stepSeed(3, 5));
    const seeds = new Set([0, 1, 2, 3, 4].map((it) => stepSeed(3, it)));
    expect(seeds.size).to.equal(5);
  });

  it('rejects bad options and resume without a checkpoint, naming the problem', async () => {
    expect(() => makeTrainer({ logEveryIters: 0 })).to.throw(/logEveryIters must be an integer ≥ 1/);
    const io = new MemoryCheckpoints();
    expect(() => makeTrainer({ checkpoint: { io, everyIters: 1 } })).to.throw(/checkpoints need an outputDir/);
    const dir = tmpDir();
    const { trainer, model } = makeTrainer({ outputDir: dir, checkpoint: { io, everyIters: 1 } });
    let err: unknown;
    await trainer.resume().catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/last_checkpoint does not exist/);
    trainer.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start a new run in a folder that holds one, and says to resume; resume then finishes', async () => {
    const dir = tmpDir();
    const first = makeTrainer({ outputDir: dir, checkpoint: { io: safetensorsCheckpointIO, everyIters: 6 }, schedule: { ...SCHEDULE, maxIter: 6 } });
    await first.trainer.train();
    first.trainer.dispose();
    first.model.dispose();
    const again = makeTrainer({ outputDir: dir, checkpoint: { io: safetensorsCheckpointIO, everyIters: 6 } });
    let err: unknown;
    await again.trainer.train().catch((e: unknown) => (err = e));
    expect(String(err)).to.contain(`${dir} already holds a run (last_checkpoint names model_0000006.safetensors): pass --resume`);
    await again.trainer.resume();
    const r = await again.trainer.train();
    expect(r).to.deep.include({ status: 'completed', nextIteration: 12 });
    again.trainer.dispose();
    again.model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('LineProgress', () => {
  it('prints a plain line at most every period and always at the last iteration', () => {
    const out: string[] = [];
    const stream = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream;
    const p = new LineProgress(stream, 3600);
    p.start(10, 0);
    for (let i = 1; i <= 10; i++) p.update({ iteration: i, loss: 0.5, lr: 0.01, itPerSec: 2 });
    expect(out).to.have.length(1);
    expect(out[0]).to.match(/^train 10\/10 \| loss 0\.5000 \| lr 1\.000e-2 \| 2\.00 it\/s \| ETA 0m00s\n$/);
  });
});
