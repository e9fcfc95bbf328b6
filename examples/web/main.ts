/**
 * A trained resvision detector in a web page, with nothing but TensorFlow.js: `loadDetector(url)` from
 * `resvision/core` fetches a checkpoint of `resvision train` (`.safetensors`: weights and the run config with its
 * class names), and `detector.detect(img)` runs the same resize, normalization, RetinaNet and post-processing as
 * `resvision predict`, on an `HTMLImageElement`, giving boxes in the image's own pixels. The page draws them with
 * class names and scores on a canvas.
 *
 * The backend is tfjs' wasm (XNNPACK, the numerics of `--backend wasm` in Node; its `.wasm` files are served beside
 * the page, under `wasm/`), or tfjs' pure-JS cpu with `?backend=cpu`. URL parameters: `checkpoint` (default the
 * quickstart's `runs/quickstart/model_0000150.safetensors`), `image` (default `BloodImage_00062.jpg`), `threshold`
 * (default the checkpoint's `predict.scoreThresh`), `backend`. The file input runs the detector on a picture of
 * yours, which never leaves the browser.
 *
 * For programs that read the result (the browser test), the detections of the last image are the JSON text of
 * `<pre id="detections">` and `window.resvisionExample.detections`, and `<body data-state>` turns from `loading` to
 * `done` (or `error`, with the message in `#status` and `window.resvisionExample.error`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { loadDetector, type Detector } from 'resvision/core';

/** One detection: class name, label 0..K-1, category id, score 0..1, `boxXyxy` in pixels of the image. */
type Detection = Awaited<ReturnType<Detector['detect']>>[number];

/** What the page exposes to scripts: the state, and the last image's detections. */
interface ExampleResult {
  state: 'loading' | 'done' | 'error';
  backend?: string;
  checkpoint?: string;
  image?: string;
  detections?: Detection[];
  error?: string;
}

declare global {
  interface Window {
    resvisionExample: ExampleResult;
  }
}

const params = new URLSearchParams(location.search);
const checkpointUrl = params.get('checkpoint') ?? 'runs/quickstart/model_0000150.safetensors';
const imageUrl = params.get('image') ?? 'BloodImage_00062.jpg';
const backendName = params.get('backend') ?? 'wasm';
const threshold = params.has('threshold') ? Number(params.get('threshold')) : undefined;

const statusLine = document.getElementById('status') as HTMLParagraphElement;
const canvas = document.getElementById('canvas') as HTMLCanvasElement;
const output = document.getElementById('detections') as HTMLPreElement;
const fileInput = document.getElementById('file') as HTMLInputElement;
/** One colour per class label (cycled), as the CLI's drawings do for a few classes. */
const COLOURS = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#9a6324'];

window.resvisionExample = { state: 'loading' };

function setState(result: ExampleResult, status: string): void {
  window.resvisionExample = result;
  document.body.dataset.state = result.state;
  statusLine.textContent = status;
}

/** Start the backend: wasm with its binaries from `wasm/` beside the page, or cpu. */
async function startBackend(name: string): Promise<void> {
  if (name !== 'wasm' && name !== 'cpu') throw new Error(`?backend=${name}: expected wasm or cpu`);
  if (name === 'wasm') setWasmPaths(new URL('wasm/', location.href).href);
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend did not start in this browser`);
  await tf.ready();
}

/** Load and decode an image; `crossOrigin` lets tfjs read the pixels of another origin that allows it (CORS). */
async function loadImage(src: string): Promise<HTMLImageElement> {
  const img = new Image();
  img.crossOrigin = 'anonymous';
  img.src = src;
  try {
    await img.decode();
  } catch {
    throw new Error(`${src}: not found or not an image the browser decodes`);
  }
  return img;
}

/** Draw the image at its own size and each box with its class name and score above it. */
function draw(img: HTMLImageElement, detections: readonly Detection[]): void {
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(img, 0, 0);
  const line = Math.max(2, Math.round(img.naturalWidth / 320));
  ctx.lineWidth = line;
  ctx.font = `${6 * line + 4}px sans-serif`;
  ctx.textBaseline = 'bottom';
  for (const d of detections) {
    const [x1, y1, x2, y2] = d.boxXyxy;
    const colour = COLOURS[d.label % COLOURS.length];
    ctx.strokeStyle = colour;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const text = `${d.className} ${d.score.toFixed(2)}`;
    const h = 6 * line + 8;
    const y = y1 >= h ? y1 : y1 + h; // inside the box when it touches the top edge
    ctx.fillStyle = colour;
    ctx.fillRect(x1 - line / 2, y - h, ctx.measureText(text).width + 2 * line, h);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x1 + line / 2, y - 2);
  }
}

/** Detect on one image, draw, and publish the detections. */
async function run(detector: Detector, src: string, name: string): Promise<void> {
  setState({ ...window.resvisionExample, state: 'loading' }, `detecting on ${name}…`);
  const img = await loadImage(src);
  const t0 = performance.now();
  const detections = await detector.detect(img, { scoreThreshold: threshold });
  const ms = performance.now() - t0;
  draw(img, detections);
  output.textContent = JSON.stringify(detections, null, 1);
  const cut = threshold ?? detector.config.predict.scoreThresh;
  setState(
    { state: 'done', backend: tf.getBackend(), checkpoint: checkpointUrl, image: name, detections },
    `${name}: ${detections.length} ${detections.length === 1 ? 'box' : 'boxes'} with score ≥ ${cut} in ${ms.toFixed(0)} ms (${tf.getBackend()} backend; classes ${detector.classes.join(', ')})`,
  );
}

function fail(e: unknown): void {
  const error = e instanceof Error ? e.message : String(e);
  setState({ ...window.resvisionExample, state: 'error', error }, error);
}

async function main(): Promise<void> {
  if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new Error(`?threshold=${params.get('threshold')}: expected a score 0..1`);
  await startBackend(backendName);
  statusLine.textContent = `loading ${checkpointUrl}…`;
  const detector = await loadDetector(checkpointUrl);
  await run(detector, imageUrl, imageUrl);
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (!file) return;
    const url = URL.createObjectURL(file);
    run(detector, url, file.name)
      .catch(fail)
      .finally(() => URL.revokeObjectURL(url));
  });
}

main().catch(fail);
