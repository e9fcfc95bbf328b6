/**
 * Drawing detections on an image file: boxes, class names and scores, rendered as an SVG overlay (rectangles and
 * `<text>` labels on a filled background) that sharp composites over the decoded image, then written as PNG or JPEG
 * by the output file's extension.
 *
 * Reference: torchvision `utils.draw_bounding_boxes` (one colour per class, label above the box's top-left corner,
 * line width in pixels); the overlay approach is sharp's `composite` with an SVG input (librsvg).
 */
import { writeAtomicWith } from '../common/atomic_write';
import * as path from 'path';
import sharp from 'sharp';
import { useBundledFont } from '../engine/fonts';

/** One box to draw, in the pixels of the image file (after EXIF orientation). */
export interface DrawnBox {
  /** `[x1, y1, x2, y2]`, continuous pixel coordinates of the oriented original image. */
  boxXyxy: readonly [number, number, number, number];
  /** Class index 0..K-1: picks the colour. */
  label: number;
  /** Text of the label, e.g. `WBC 0.93`. */
  text: string;
}

/** Options of `drawDetections`. */
export interface DrawOptions {
  /** Box outline width, pixels. Default: max(2, round(shorter side / 200)). */
  lineWidth?: number;
  /** Label font size, pixels. Default: max(12, round(shorter side / 40)). */
  fontSize?: number;
}

/**
 * Distinct colours (Tableau 10), cycled by class index, as torchvision's `draw_bounding_boxes` cycles a palette.
 */
export const BOX_COLOURS: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

/** Escape text for an SVG text node. */
function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/**
 * The SVG overlay for an image of `width x height`: one outlined rectangle per box and a label (white text on a
 * rectangle of the box's colour) above its top-left corner, or inside the box when there is no room above.
 * @param boxes boxes in image pixels; drawn in the given order (later ones on top).
 * @returns an SVG document of exactly `width x height` pixels.
 */
export function detectionOverlaySvg(width: number, height: number, boxes: readonly DrawnBox[], opts: DrawOptions = {}): string {
  const short = Math.min(width, height);
  const lw = opts.lineWidth ?? Math.max(2, Math.round(short / 200));
  const fs_ = opts.fontSize ?? Math.max(12, Math.round(short / 40));
  const parts: string[] = [];
  for (const b of boxes) {
    const colour = BOX_COLOURS[((b.label % BOX_COLOURS.length) + BOX_COLOURS.length) % BOX_COLOURS.length];
    const [x1, y1, x2, y2] = b.boxXyxy;
    parts.push(
      `<rect x="${x1.toFixed(1)}" y="${y1.toFixed(1)}" width="${Math.max(0, x2 - x1).toFixed(1)}" height="${Math.max(0, y2 - y1).toFixed(1)}" ` +
        `fill="none" stroke="${colour}" stroke-width="${lw}"/>`,
    );
    // Label box: text width estimated at 0.6 em per character (DejaVu Sans averages about 0.55-0.6 em).
    const tw = Math.ceil(0.6 * fs_ * b.text.length) + 6;
    const th = Math.ceil(fs_ * 1.25);
    const above = y1 - th >= 0;
    const ly = above ? y1 - th : Math.max(0, y1);
    const lx = Math.min(Math.max(0, x1 - lw / 2), Math.max(0, width - tw));
    parts.push(`<rect x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" width="${tw}" height="${th}" fill="${colour}" fill-opacity="0.85"/>`);
    parts.push(
      `<text x="${(lx + 3).toFixed(1)}" y="${(ly + th - Math.round(fs_ * 0.3)).toFixed(1)}" font-family="DejaVu Sans, sans-serif" ` +
        `font-size="${fs_}" fill="#ffffff">${escapeXml(b.text)}</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

/**
 * Draw boxes on an image file and write the result: PNG for `.png`, JPEG (quality 90) for `.jpg`/`.jpeg`. The image
 * is EXIF-oriented first, so boxes are in the same pixels as the detector's (`decodeImage` orients too). The output
 * is written to a temporary name in the same folder, then renamed.
 * @param input image file (any format sharp reads).
 * @param output `.png`, `.jpg` or `.jpeg` file; its folder must exist.
 * @throws Error naming the file for another extension or an unreadable image.
 */
export async function drawDetections(input: string, output: string, boxes: readonly DrawnBox[], opts: DrawOptions = {}): Promise<void> {
  const ext = path.extname(output).toLowerCase();
  if (!['.png', '.jpg', '.jpeg'].includes(ext)) throw new Error(`drawDetections: '${output}' must end in .png, .jpg or .jpeg`);
  let oriented: { data: Buffer; info: sharp.OutputInfo };
  try {
    oriented = await sharp(input).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new Error(`drawDetections: cannot read image '${input}': ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const { width, height, channels } = oriented.info;
  const svg = Buffer.from(detectionOverlaySvg(width, height, boxes, opts));
  useBundledFont();
  let pipe = sharp(oriented.data, { raw: { width, height, channels } }).composite([{ input: svg, top: 0, left: 0 }]);
  pipe = ext === '.png' ? pipe.png() : pipe.jpeg({ quality: 90 });
  const encoded = pipe;
  await writeAtomicWith(output, (tmp) => encoded.toFile(tmp));
}
