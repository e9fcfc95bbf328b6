/**
 * The font of every picture resvision draws (detection labels, segmentation legends, training curves): DejaVu Sans,
 * bundled in `fonts/` with its licence, so text looks the same on every machine and a slim image without system fonts
 * draws letters, not empty boxes.
 *
 * sharp rasterizes SVG with librsvg, which finds fonts through fontconfig only: it ignores `@font-face` (an embedded
 * base64 font renders as missing-glyph boxes, measured with sharp 0.35.5 / librsvg 2.63.2), and fontconfig reads its
 * configuration from `FONTCONFIG_FILE` once, when the first text is laid out. So {@link useBundledFont} writes a
 * fonts.conf that includes the configuration in effect (the user's `FONTCONFIG_FILE`, else the system's
 * `/etc/fonts/fonts.conf`) and adds the bundled folder, and points `FONTCONFIG_FILE` at it. Nothing is taken away:
 * system fonts stay available; this is the one process-wide setting resvision makes, set once before the first
 * picture, because fontconfig offers no other way in.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { packageRoot } from './package_info';

/** The family name to put in SVG `font-family` (with `sans-serif` after it). */
export const BUNDLED_FONT_FAMILY = 'DejaVu Sans';

/** The folder holding the bundled font files (`<package>/fonts`). */
export function bundledFontDir(): string {
  return path.join(packageRoot(), 'fonts');
}

/** Where the generated configurations go (per user, so two users of one machine do not share a folder). */
function configDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return path.join(os.tmpdir(), `resvision-fontconfig-${uid}`);
}

/** Escape a path for an XML text node. */
function xmlText(s: string): string {
  return s.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string);
}

let configured: string | null = null;

/**
 * Make the bundled font visible to sharp's SVG text (fontconfig), keeping the fonts already configured. Idempotent;
 * call it before rendering any SVG text. A `FONTCONFIG_FILE` that already points at a configuration written here (a
 * child process inherits it) is kept as it is.
 * @returns the fonts.conf in effect.
 * @throws Error when the bundled font folder is missing (a broken install) or the configuration cannot be written.
 */
export function useBundledFont(): string {
  if (configured !== null && process.env.FONTCONFIG_FILE === configured) return configured;
  const dir = configDir();
  const current = process.env.FONTCONFIG_FILE;
  if (current && path.dirname(path.resolve(current)) === dir) return (configured = current);
  const fontDir = bundledFontDir();
  if (!fs.existsSync(path.join(fontDir, 'DejaVuSans.ttf'))) {
    throw new Error(`${path.join(fontDir, 'DejaVuSans.ttf')}: the bundled font is missing; reinstall resvision`);
  }
  const base = current ? path.resolve(current) : '/etc/fonts/fonts.conf';
  const xml =
    '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig>\n' +
    `  <include ignore_missing="yes">${xmlText(base)}</include>\n` +
    `  <dir>${xmlText(fontDir)}</dir>\n` +
    `  <cachedir>${xmlText(path.join(dir, 'cache'))}</cachedir>\n` +
    '</fontconfig>\n';
  const file = path.join(dir, `fonts-${createHash('sha256').update(xml).digest('hex').slice(0, 12)}.conf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, xml);
      fs.renameSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw new Error(`cannot write the font configuration ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  process.env.FONTCONFIG_FILE = file;
  return (configured = file);
}
