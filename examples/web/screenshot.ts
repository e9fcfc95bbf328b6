/**
 * The browser example's picture (`docs/img/web_example.png`): builds the page, serves it, opens it in headless
 * Chromium on a detection checkpoint and its default image, and saves the page as a palette PNG (the photograph
 * stays under 150 KB).
 *
 *   npx tsx examples/web/screenshot.ts [--checkpoint FILE] [--out FILE]
 *
 * `--checkpoint` defaults to the quickstart's (`runs/quickstart/model_0000150.safetensors`: `npm run quickstart`
 * first); `--out` to `docs/img/web_example.png`. Chromium is `CHROMIUM_PATH` or Debian's `/usr/bin/chromium`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { parseArgs } from 'util';
import { buildWebExample } from './build';
import { serveWebExample } from './serve';

const REPO = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      checkpoint: { type: 'string', default: path.join(REPO, 'runs', 'quickstart', 'model_0000150.safetensors') },
      out: { type: 'string', default: path.join(REPO, 'docs', 'img', 'web_example.png') },
    },
  });
  const ckpt = path.resolve(values.checkpoint);
  const out = path.resolve(values.out);
  if (!fs.existsSync(ckpt)) throw new Error(`--checkpoint ${ckpt}: file not found (npm run quickstart writes the default)`);
  const exe = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!fs.existsSync(exe)) throw new Error(`no Chromium at ${exe} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-web-shot-'));
  const server = await serveWebExample({ root: await buildWebExample(path.join(tmp, 'site')), mounts: [{ prefix: '/ckpt/', dir: path.dirname(ckpt) }] });
  const browser = await chromium.launch({ executablePath: exe });
  try {
    const page = await browser.newPage({ viewport: { width: 680, height: 780 } });
    await page.goto(`${server.url}?checkpoint=/ckpt/${encodeURIComponent(path.basename(ckpt))}`);
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 300_000 });
    const status = await page.textContent('#status');
    if ((await page.getAttribute('body', 'data-state')) === 'error') throw new Error(`the page failed: ${status}`);
    const png = await sharp(await page.screenshot()).png({ palette: true, colours: 96, dither: 0, effort: 10 }).toBuffer();
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(`${out}.tmp`, png);
    fs.renameSync(`${out}.tmp`, out);
    process.stdout.write(`${path.relative(process.cwd(), out)}: ${png.length} bytes; ${status}\n`);
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`screenshot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
