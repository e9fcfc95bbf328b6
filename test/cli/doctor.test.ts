/**
 * `resvision doctor`: the report names the active backend with its version and threads, every candidate tried with
 * the reason it did not load, and the install commands of the native backends pinned to the peer-dependency
 * versions of package.json (the versions that fit this resvision's @tensorflow/tfjs).
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { doctorReport, nativePeerVersion } from '../../src/cli/doctor';

const PKG = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));

describe('doctor', function () {
  this.timeout(60_000);

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
});
