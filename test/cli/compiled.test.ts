/**
 * The compiled package as users run it: `node bin/resvision.js` and `require('resvision')` load dist/ with plain
 * Node, without the TypeScript loader the rest of the suite runs under (a module Node cannot load, such as an ES
 * module required from CommonJS, fails only here). Skipped, saying why, when dist/ has not been built
 * (`npm ci` builds it; `npm run build` after editing sources).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../..');
const BUILT = fs.existsSync(path.join(REPO, 'dist', 'src', 'cli', 'main.js'));

/** Run `node ARGS` in the repository with plain Node (no loader from the test process); asserts exit code 0. */
function node(args: string[], timeoutMs = 300_000): string {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // mocha's TypeScript loader must not reach the child
  const p = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8', env, timeout: timeoutMs });
  expect(p.status, `node ${args.join(' ')}\n${p.stderr}`).to.equal(0);
  return p.stdout;
}

describe(`compiled package (dist/, plain Node)${BUILT ? '' : ' (skipped: dist/ is not built; run npm run build)'}`, function () {
  this.timeout(600_000);
  before(function () {
    if (!BUILT) this.skip();
  });

  it('require("resvision") and require("resvision/core"): the cpu backend is registered and gradients flow (x^2 -> 2x)', () => {
    for (const entry of ['./dist/src/index.js', './dist/src/core.js']) {
      const out = node([
        '-e',
        `require(${JSON.stringify(entry)}); const tf = require('@tensorflow/tfjs-core');` +
          "tf.ready().then(() => { const g = tf.grad((x) => tf.sum(tf.mul(x, x))); g(tf.tensor1d([1, 2, 3])).data().then((d) => console.log(tf.getBackend(), JSON.stringify(Array.from(d)))); });",
      ]);
      expect(out.trim().split('\n').pop(), entry).to.equal('cpu [2,4,6]');
    }
  });

  it('resvision doctor --backend cpu, and a 1-iteration quickstart on wasm (training, evaluation, pictures, curves)', () => {
    expect(node(['bin/resvision.js', 'doctor', '--backend', 'cpu'])).to.match(/^active backend: cpu \(@tensorflow\/tfjs-backend-cpu /);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-compiled-'));
    try {
      const out = node(['bin/resvision.js', 'quickstart', '--max-iter', '1', '--output-dir', dir, '--backend', 'wasm', '--quiet']);
      expect(out).to.contain('split test: 24 images');
      expect(fs.existsSync(path.join(dir, 'model_0000001.safetensors'))).to.equal(true);
      expect(fs.existsSync(path.join(dir, 'curve.png'))).to.equal(true);
      const exported = path.join(dir, 'exported.safetensors');
      node(['bin/resvision.js', 'export-weights', path.join(dir, 'model_0000001.safetensors'), '--out', exported]);
      expect(fs.statSync(exported).size).to.be.greaterThan(1000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
