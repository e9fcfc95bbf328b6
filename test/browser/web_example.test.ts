/**
 * The browser example (`examples/web/`) in headless Chromium: the page built by `examples/web/build.ts` and served
 * on 127.0.0.1 by `examples/web/serve.ts` loads a detection checkpoint from a URL with `resvision/core`'s
 * `loadDetector`, runs it with tfjs' wasm backend on an image given by URL and on one chosen in its file input, and
 * its detections equal `resvision predict --json` on the same files (classes, scores, boxes within 1e-3, same
 * count). The checkpoint is the 2-iteration ResNet-18 RetinaNet of `test/helpers/tiny_detector.ts` (100
 * low-score boxes per image). A checkpoint URL that does not exist is one error on the page, naming it.
 *
 * Chromium is Debian's (`/usr/bin/chromium`, or `CHROMIUM_PATH`), driven by playwright-core; without it the tests
 * skip, saying why (`.ci/run` installs it). Its own process (`npm run test:browser`), like the WebGPU tests.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildWebExample } from '../../examples/web/build';
import { serveWebExample, type WebExampleServer } from '../../examples/web/serve';
import type { PredictedBox } from '../../src/tasks/detection';
import { runCli } from '../helpers/cli';
import { trainTinyDetector, type TinyDetector } from '../helpers/tiny_detector';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** What the page publishes on `window.resvisionExample` (examples/web/main.ts). */
interface ExampleResult {
  state: 'loading' | 'done' | 'error';
  backend?: string;
  image?: string;
  detections?: PredictedBox[];
  error?: string;
}

/** Same classes in the same order, scores and box corners within 1e-3. */
function expectSameDetections(page: PredictedBox[], cli: PredictedBox[]): void {
  expect(page.length).to.equal(cli.length);
  page.forEach((d, i) => {
    const c = cli[i];
    expect([d.className, d.label, d.categoryId], `detection ${i}`).to.deep.equal([c.className, c.label, c.categoryId]);
    expect(d.score, `detection ${i} score`).to.be.closeTo(c.score, 1e-3);
    d.boxXyxy.forEach((v, k) => expect(v, `detection ${i} box[${k}]`).to.be.closeTo(c.boxXyxy[k], 1e-3));
  });
}

/** Wait until the page has finished (done or error) with the image named `image`, and return what it published. */
async function result(page: Page, image?: string): Promise<ExampleResult> {
  await page.waitForFunction(
    (name) => {
      const r = (globalThis as unknown as { resvisionExample?: ExampleResult }).resvisionExample;
      return r?.state === 'error' || (r?.state === 'done' && (name === undefined || r.image === name));
    },
    image,
    { timeout: 240_000 },
  );
  return page.evaluate(() => (globalThis as unknown as { resvisionExample: ExampleResult }).resvisionExample);
}

describe('browser example: a detector in headless Chromium equals `resvision predict`', function () {
  this.timeout(600_000);
  let skipReason: string | null = null;
  let dir: string;
  let tiny: TinyDetector;
  let server: WebExampleServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) {
      skipReason = `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`;
      return;
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-web-'));
    tiny = await trainTinyDetector(dir);
    const site = await buildWebExample(path.join(dir, 'site'));
    server = await serveWebExample({ root: site, mounts: [{ prefix: '/data/', dir }] });
    browser = await chromium.launch({ executablePath: CHROMIUM });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    if (skipReason != null) {
      process.stderr.write(`      skipped: ${skipReason}\n`);
      this.skip();
    }
  });

  /** The data folder's URL of a file under it. */
  const dataUrl = (file: string) => `/data/${path.relative(dir, file).split(path.sep).join('/')}`;

  it('?checkpoint=URL&image=URL, then a file chosen in the file input: the detections of predict --json (1e-3)', async () => {
    const cli = JSON.parse(await runCli(['predict', tiny.cfgFile, tiny.images[0], tiny.images[1], '--checkpoint', tiny.ckpt, '--json'])) as { detections: PredictedBox[] }[];

    await page.goto(`${server!.url}?checkpoint=${dataUrl(tiny.ckpt)}&image=${dataUrl(tiny.images[0])}`);
    const first = await result(page);
    expect(first.error, `page error: ${first.error} ${pageErrors.join('; ')}`).to.equal(undefined);
    expect(first.backend).to.equal('wasm');
    expect(first.detections!.length).to.be.greaterThan(10);
    expectSameDetections(first.detections!, cli[0].detections);
    // The <pre> holds the same list; the canvas has the image's own size (640x480).
    expect(JSON.parse((await page.textContent('#detections'))!)).to.deep.equal(first.detections);
    expect([await page.getAttribute('#canvas', 'width'), await page.getAttribute('#canvas', 'height')]).to.deep.equal(['640', '480']);

    const name = path.basename(tiny.images[1]);
    await page.setInputFiles('#file', tiny.images[1]);
    const second = await result(page, name);
    expect(second.error, `page error: ${second.error} ${pageErrors.join('; ')}`).to.equal(undefined);
    expectSameDetections(second.detections!, cli[1].detections);
    expect(pageErrors).to.deep.equal([]);
  });

  it('a checkpoint URL that does not exist: one error on the page naming the URL and the HTTP status', async () => {
    await page.goto(`${server!.url}?checkpoint=/data/missing.safetensors&image=${dataUrl(tiny.images[0])}`);
    const r = await result(page);
    expect(r.state).to.equal('error');
    expect(r.error).to.equal('/data/missing.safetensors: HTTP 404 Not Found');
    expect(await page.textContent('#status')).to.equal(r.error);
  });

});
