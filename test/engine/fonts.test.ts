import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { bundledFontDir } from '../../src/engine/fonts';

const ROOT = path.resolve(__dirname, '..', '..');

/** A fontconfig configuration holding exactly the font folders given (none: a slim image without fonts). */
function fontconfigFile(dir: string, name: string, fontDirs: string[]): string {
  const file = path.join(dir, `${name}.conf`);
  fs.writeFileSync(
    file,
    '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n' +
      fontDirs.map((d) => `  <dir>${d}</dir>\n`).join('') +
      `  <cachedir>${path.join(dir, `cache-${name}`)}</cachedir>\n</fontconfig>\n`,
  );
  return file;
}

/** Render the label in a child process under `fontconfig`; return its RGB pixels. */
async function renderLabel(mode: 'draw' | 'plain', fontconfig: string, input: string, output: string): Promise<Buffer> {
  execFileSync(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'test', 'helpers', 'render_label.ts'), mode, input, output], {
    cwd: ROOT,
    env: { ...process.env, FONTCONFIG_FILE: fontconfig, TMPDIR: path.dirname(output) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return sharp(output).removeAlpha().raw().toBuffer();
}

describe('bundled font (fontconfig unable to find any system font)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resvision-fonts-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a detection label drawn without system fonts is pixel-identical to one drawn with DejaVu Sans, and not the empty boxes', async function () {
    this.timeout(60000);
    const input = path.join(dir, 'grey.png');
    await sharp({ create: { width: 200, height: 60, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toFile(input);
    const noFonts = fontconfigFile(dir, 'none', []);
    const onlyDejaVu = fontconfigFile(dir, 'dejavu', [bundledFontDir()]);
    const drawn = await renderLabel('draw', noFonts, input, path.join(dir, 'drawn.png'));
    const reference = await renderLabel('plain', onlyDejaVu, input, path.join(dir, 'reference.png'));
    const boxes = await renderLabel('plain', noFonts, input, path.join(dir, 'boxes.png'));
    expect(drawn.length).to.equal(200 * 60 * 3);
    // The reference really has text: white glyph pixels inside the label background (rows 12..29 above the box).
    const white = (b: Buffer): number => {
      let n = 0;
      for (let i = 0; i < b.length; i += 3) if (b[i] > 200 && b[i + 1] > 200 && b[i + 2] > 200) n++;
      return n;
    };
    expect(white(reference)).to.be.greaterThan(40);
    // Without any font, librsvg draws hex boxes: a different picture. This proves the setup lacks system fonts,
    // so the equality below can only come from the bundled font.
    expect(boxes.equals(reference)).to.equal(false);
    expect(drawn.equals(reference)).to.equal(true);
  });
});
