/**
 * Builds the browser example into `examples/web/dist/` (ignored by git): `main.js` (the page's script, bundled by
 * esbuild for the browser from `main.ts`, with `resvision/core` taken from the sources through `tsconfig.json`'s
 * `paths`), `index.html`, the default image, and the three builds of the TensorFlow.js wasm backend under `wasm/`
 * (the page points `setWasmPaths` there; tfjs picks the one the browser supports).
 *
 * `npm run web-example:build`, or `buildWebExample()` from code (the browser test calls it).
 */
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as path from 'path';

export const WEB_EXAMPLE_DIR = __dirname;
/** Where the built page goes. */
export const WEB_EXAMPLE_OUT = path.join(__dirname, 'dist');
const REPO = path.resolve(__dirname, '..', '..');
/** The picture the page detects on when no `?image=` is given: the one the quickstart draws its boxes on. */
export const DEFAULT_IMAGE = path.join(REPO, 'examples', 'bccd', 'JPEGImages', 'BloodImage_00062.jpg');
const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/**
 * Build the page into `outDir` (emptied first).
 * @returns the output folder.
 * @throws Error with esbuild's messages when the bundle does not build.
 */
export async function buildWebExample(outDir: string = WEB_EXAMPLE_OUT): Promise<string> {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(outDir, 'wasm'), { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(__dirname, 'main.ts')],
    outfile: path.join(outDir, 'main.js'),
    tsconfig: path.join(__dirname, 'tsconfig.json'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  fs.copyFileSync(path.join(__dirname, 'index.html'), path.join(outDir, 'index.html'));
  fs.copyFileSync(DEFAULT_IMAGE, path.join(outDir, path.basename(DEFAULT_IMAGE)));
  const wasmDist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const f of WASM_FILES) fs.copyFileSync(path.join(wasmDist, f), path.join(outDir, 'wasm', f));
  return outDir;
}

if (require.main === module) {
  buildWebExample().then(
    (dir) => process.stdout.write(`built ${path.relative(process.cwd(), dir) || '.'}\n`),
    (e: unknown) => {
      process.stderr.write(`web example build failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
