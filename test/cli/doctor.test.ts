/**
 * `resvision doctor`: the report names the active backend with its version and threads, every candidate tried with
 * the reason it did not load, and the install commands of the native backends pinned to the peer-dependency
 * versions of package.json (the versions that fit this resvision's @tensorflow/tfjs).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { backendNotices } from '../../src/cli/common';
import { doctorReport, nativePeerVersion } from '../../src/cli/doctor';
import type { BackendInfo } from '../../src/engine/backend';
import { CUDA_LIBRARIES } from '../../src/engine/cuda_libraries';
import { availableThreads } from '../../src/engine/wasm_threads';
import { runCli } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '../..');

/** Run the CLI from source in a child process; it must exit by itself. */
function cliChild(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(r.error, `resvision ${args.join(' ')} did not exit by itself`).to.equal(undefined);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PKG = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));

describe('doctor', function () {
  this.timeout(60_000);

  it('backendNotices: fewer wasm threads than asked is noted; the count asked or none asked is not', () => {
    const wasm = (threads: number): BackendInfo => ({ name: 'wasm', packageName: '@tensorflow/tfjs-backend-wasm', version: '4.22.0', threads, attempts: [] });
    expect(backendNotices(wasm(8), 64)).to.deep.equal(['the wasm backend runs 8 threads, the most its threaded build starts (64 asked)']);
    expect(backendNotices(wasm(8), 8)).to.deep.equal([]);
    expect(backendNotices(wasm(2))).to.deep.equal([]);
  });

  it('nativePeerVersion: the peerDependencies entries of package.json', () => {
    expect(nativePeerVersion('@tensorflow/tfjs-node')).to.equal(PKG.peerDependencies['@tensorflow/tfjs-node']);
    expect(nativePeerVersion('@tensorflow/tfjs-node-gpu')).to.equal(PKG.peerDependencies['@tensorflow/tfjs-node-gpu']);
  });

  it('--backend wasm: active wasm with 1 thread, the native packages reported absent, pinned install commands', async () => {
    const report = (await doctorReport('wasm')).split('\n');
    const wasm = PKG.dependencies['@tensorflow/tfjs-backend-wasm'].replace(/^\^/, '');
    expect(report[0]).to.equal(`active backend: wasm (@tensorflow/tfjs-backend-wasm ${wasm}), threads: 1`);
    expect(report[1]).to.equal(`tfjs-core: ${wasm}, node: ${process.version}, platform: ${process.platform}-${process.arch}`);
    // probeAll: every candidate is tried; the native packages are optional peers that `npm ci` never installs.
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      const line = report.find((l) => l.startsWith(`  no   ${pkg}:`) || l === `  ok   ${pkg}`);
      if (fs.existsSync(path.resolve(__dirname, '../../node_modules', pkg))) continue; // installed by hand: reported either way
      expect(line).to.match(new RegExp(`^  no   ${pkg}: module not installed`));
    }
    expect(report).to.include('  ok   @tensorflow/tfjs-backend-wasm');
    expect(report).to.include(`  CPU, all cores:   npm install @tensorflow/tfjs-node@${PKG.peerDependencies['@tensorflow/tfjs-node']}`);
    expect(report.find((l) => l.startsWith('  NVIDIA GPU:'))).to.equal(
      `  NVIDIA GPU:       npm install @tensorflow/tfjs-node-gpu@${PKG.peerDependencies['@tensorflow/tfjs-node-gpu']}` +
        '  (Linux x86-64 or Windows; driver > 450, CUDA 11.2, cuDNN 8.1 on the library path)',
    );
  });

  it('reports the wasm thread count, every WebGPU adapter line and each CUDA/cuDNN soname found or missing', async () => {
    const report = (await doctorReport('wasm')).split('\n');
    expect(report).to.include(`threads: 1 for wasm (--threads N; default: the ${availableThreads()} cores available)`);
    const gpuAt = report.indexOf('webgpu adapters:');
    expect(gpuAt).to.be.greaterThan(0);
    // One line per adapter ("NAME: vendor V, BACKEND, LEVEL, hardware|software ...") or one saying why there is none.
    expect(report[gpuAt + 1]).to.match(/^  (none.*|.+: vendor .+, (vulkan|metal|d3d12|d3d11|opengles|opengl), (core|compatibility), (hardware|software \(auto skips it\)).*)$/);
    expect(report).to.include('tfjs-node-gpu (needs libtensorflow 2.9 with CUDA 11.2 and cuDNN 8.1):');
    if (process.platform === 'linux') {
      for (const lib of CUDA_LIBRARIES) {
        const line = report.find((l) => l.startsWith(`  ${lib.soname}: `));
        expect(line, lib.soname).to.match(new RegExp(`^  ${lib.soname.replace(/\./g, '\\.')}: (/.+|missing \\(.+\\))$`));
      }
    }
  });

  it('--backend tensorflow without the native packages: diagnoses (active none, each reason) instead of refusing', async function () {
    if (['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => fs.existsSync(path.join(ROOT, 'node_modules', p)))) {
      this.skip(); // a native package is installed by hand here: nothing to diagnose
    }
    const report = (await doctorReport('tensorflow')).split('\n');
    expect(report[0]).to.equal("active backend: none (backend 'tensorflow' is not available)");
    expect(report).to.include("  no   @tensorflow/tfjs-node-gpu: module not installed (Cannot find module '@tensorflow/tfjs-node-gpu')");
    expect(report).to.include("  no   @tensorflow/tfjs-node: module not installed (Cannot find module '@tensorflow/tfjs-node')");
    expect(report).to.include('webgpu adapters:');
  });

  it('--require-gpu on the wasm backend: the report, then one error line saying there is no GPU', async () => {
    let err: Error | undefined;
    const out = await runCli(['--require-gpu', 'doctor']).catch((e: Error) => ((err = e), ''));
    expect(out).to.equal('');
    expect(err?.message).to.equal("--require-gpu: backend 'wasm' has no GPU here (see the report above)");
  });

  it('a bad --threads value is one argument error', async () => {
    let err: Error | undefined;
    await runCli(['--threads', '0', 'doctor']).catch((e: Error) => (err = e));
    expect(err?.message).to.match(/option '--threads <n>' argument '0' is invalid\. expected a positive integer/);
  });

  it('child process: --backend wasm --threads 2 doctor runs the threaded build and exits by itself', () => {
    const r = cliChild(['--backend', 'wasm', '--threads', '2', 'doctor']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.split('\n')[0]).to.match(/^active backend: wasm \(@tensorflow\/tfjs-backend-wasm [\d.]+\), threads: 2$/);
  });
});
