/**
 * The threaded wasm backend under Node (src/engine/wasm_threads.ts): the installed tfjs-backend-wasm still has
 * every trait the shim works around; a process started with 2 threads reports 2, exits by itself (the pool threads
 * do not hold it), and computes bit-identical ResNet-18 logits, loss, training-step gradients and ResNeXt grouped
 * convolutions (forward at stride 1 and 2, filter gradient) to a 1-thread process; the grouped-convolution kernel
 * runs in place on the threaded build's shared heap and matches one convolution per group.
 *
 * Each thread count needs its own process: tfjs-backend-wasm initializes its module once per process.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { checkThreadedWasmPackage } from '../../src/engine/wasm_threads';

const ROOT = path.resolve(__dirname, '../..');
const CHILD = path.join(__dirname, 'fixtures/threads_child.ts');

interface ChildResult {
  threads: number;
  logits: string;
  loss: string;
  grads: Record<string, string>;
  grouped: { memory: string; stride1: string; stride2: string; filterGrad: string; maxAbsDiffVsPerGroupConv: number };
}

/** Run the child with `threads`; it must exit by itself within the timeout (a hang is a failure, not a skip). */
function runChild(threads: number): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, String(threads)], { cwd: ROOT, encoding: 'utf8', timeout: 150_000 });
  expect(r.error, `child (${threads} threads) did not exit by itself: ${String(r.error)}`).to.equal(undefined);
  expect(r.status, `child (${threads} threads) failed:\n${r.stderr}`).to.equal(0);
  return JSON.parse(r.stdout) as ChildResult;
}

describe('wasm_threads', function () {
  this.timeout(320_000);

  it('checkThreadedWasmPackage: every trait of the installed tfjs-backend-wasm the shim relies on is present', () => {
    const checks = checkThreadedWasmPackage();
    expect(checks.length).to.be.greaterThan(10);
    for (const c of checks) expect(c.ok, c.what).to.equal(true);
  });

  it('1 vs 2 threads: each exits by itself; ResNet-18 logits, loss, gradients and grouped convs bit-identical', () => {
    const one = runChild(1);
    const two = runChild(2);
    expect(one.threads).to.equal(1);
    expect(two.threads).to.equal(2);
    expect(one.grouped.memory).to.equal('wasm heap');
    expect(two.grouped.memory).to.equal('wasm heap (shared)');
    expect(two.logits).to.equal(one.logits);
    expect(two.loss).to.equal(one.loss);
    expect(Object.keys(two.grads)).to.have.length(5);
    for (const k of Object.keys(one.grads)) expect(two.grads[k], k).to.equal(one.grads[k]);
    for (const k of ['stride1', 'stride2', 'filterGrad'] as const) expect(two.grouped[k], k).to.equal(one.grouped[k]);
    // The grouped kernel against 32 separate tfjs convolutions on the same input: float32 sums of 36 products in
    // another order, hence a tolerance rather than equality.
    for (const r of [one, two]) expect(r.grouped.maxAbsDiffVsPerGroupConv).to.be.lessThan(1e-4);
    for (const k of Object.keys(one.grads)) expect(Number(one.grads[k].split('l1=')[1]), `${k} gradient is zero`).to.be.greaterThan(0);
    // Not all zeros: a dropped computation would make both sides equal trivially.
    const logits = new Float32Array(Uint8Array.from(Buffer.from(one.logits, 'base64')).buffer);
    expect(logits.length).to.equal(14);
    expect(logits.some((v) => v !== 0)).to.equal(true);
  });
});
