/**
 * The portable core (`src/core.ts`, published as `resvision/core`) bundles for browsers: esbuild with platform
 * 'browser' must resolve its whole import graph without any Node built-in module imported from resvision's code or
 * from a dependency, and without sharp, fast-glob, yauzl or piscina.
 *
 * Three imports inside TensorFlow.js's own packages are allowed, each stubbed as tfjs's published browser bundle
 * does: they sit in code that runs only under Node (tfjs-core's Node platform, tfjs-data's file source, the
 * `crypto` fallback of seedrandom behind a `require` guard).
 */
import { expect } from 'chai';
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..', '..');
const NODE_BUILTIN = /^(node:.*|assert|buffer|child_process|cluster|crypto|dgram|dns|events|fs|fs\/promises|http|http2|https|module|net|os|path|perf_hooks|process|querystring|readline|stream|string_decoder|timers|tls|tty|url|util|v8|vm|worker_threads|zlib)$/;
/** [builtin, importer path inside node_modules] pairs that tfjs only reaches under Node. */
const ALLOWED: readonly [string, RegExp][] = [
  ['fs', /@tensorflow\/tfjs-data\/dist\/sources\/file_data_source\.js$/],
  ['util', /@tensorflow\/tfjs-core\/dist\/platforms\/platform_node\.js$/],
  ['crypto', /seedrandom\/seedrandom\.js$/],
];
/** Whether `name` is installed as an npm package (e.g. the `string_decoder` polyfill), not left to Node. */
function isInstalledPackage(name: string): boolean {
  return !name.startsWith('node:') && fs.existsSync(path.join(REPO, 'node_modules', name, 'package.json'));
}
const NODE_ONLY_PACKAGES = ['sharp', 'fast-glob', 'yauzl', 'piscina', 'onnxruntime-node'];

describe('resvision/core bundles for the browser', () => {
  it('src/core.ts: no Node built-in and no Node-only package in the import graph', async function () {
    this.timeout(120000);
    const nodeImports: string[] = [];
    const result = await esbuild.build({
      entryPoints: [path.join(REPO, 'src', 'core.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'node-builtins',
          setup(build) {
            build.onResolve({ filter: NODE_BUILTIN }, (a) => {
              if (isInstalledPackage(a.path)) return undefined;
              const allowed = ALLOWED.some(([mod, importer]) => mod === a.path && importer.test(a.importer));
              if (!allowed) nodeImports.push(`${a.path} <- ${path.relative(REPO, a.importer)}`);
              return { path: a.path, namespace: 'stub' };
            });
            build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({ contents: 'export default {}', loader: 'js' }));
          },
        },
      ],
    });
    expect(result.errors).to.deep.equal([]);
    expect(nodeImports, 'Node built-ins imported').to.deep.equal([]);
    const inputs = Object.keys(result.metafile!.inputs);
    const nodeOnly = inputs.filter((f) => NODE_ONLY_PACKAGES.some((p) => f.includes(`node_modules/${p}/`)));
    expect(nodeOnly, 'Node-only packages bundled').to.deep.equal([]);
    // The graph does hold the models, post-processing, evaluators, weight parsing, ONNX export and the inference API.
    for (const f of ['src/backbone/resnet.ts', 'heads/detection/postprocess.ts', 'datasets/coco/cocoeval.ts', 'src/weights/model_weights.ts', 'src/export/onnx/export.ts',
      'src/inference/detector.ts', 'src/inference/segmenter.ts', 'src/inference/classifier.ts', 'src/tasks/models.ts']) {
      expect(inputs, f).to.include(f);
    }
  });

  it('the check catches a Node import: src/index.ts (the Node entry) is rejected', async function () {
    this.timeout(120000);
    const nodeImports: string[] = [];
    await esbuild
      .build({
        entryPoints: [path.join(REPO, 'src', 'index.ts')],
        bundle: true,
        platform: 'browser',
        write: false,
        logLevel: 'silent',
        external: NODE_ONLY_PACKAGES,
        plugins: [
          {
            name: 'node-builtins',
            setup(build) {
              build.onResolve({ filter: NODE_BUILTIN }, (a) => {
                if (!a.importer.includes('node_modules')) nodeImports.push(`${a.path} <- ${path.relative(REPO, a.importer)}`);
                return { path: a.path, external: true };
              });
            },
          },
        ],
      })
      .catch(() => undefined);
    expect(nodeImports.some((s) => /^(fs|path) <- src\//.test(s)), nodeImports.join('; ')).to.equal(true);
  });
});
