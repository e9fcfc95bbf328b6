/**
 * Pictures of semantic segmentation results: label masks written as palette PNGs (the format of VOC
 * `SegmentationClass`, read back as class indices by `eval-seg` and PIL), and colourised overlays (each class's
 * colormap colour blended over the image, with a legend of the classes present) written with sharp.
 *
 * Reference: the VOC devkit `VOClabelcolormap.m` (colours, index 255 = void), mmsegmentation
 * `SegLocalVisualizer` (`opacity` blend of the palette colour over the image); PNG specification (ISO/IEC 15948),
 * colour type 3 (palette).
 */
import * as fs from 'fs';
import * as path from 'path';
import { encode } from 'fast-png';
import sharp from 'sharp';
import { vocColormap } from '../../datasets/pipeline/png_index';
import { writeAtomicWith, writeFileAtomicSync } from '../common/atomic_write';
import { useBundledFont } from '../engine/fonts';

/**
 * Encode a label mask as an 8-bit palette PNG whose palette is the VOC colormap (256 entries): the stored samples
 * are the class indices, so PIL's `np.array(Image.open(f))`, the VOC devkit and `readLabelMask` read the classes
 * back, and an image viewer shows VOC's colours.
 * @param mask [H * W] uint8 row-major class indices (255 = void).
 * @returns the PNG file's bytes.
 * @throws Error when `mask.length !== height * width`.
 */
export function encodePaletteMask(mask: Uint8Array, height: number, width: number): Uint8Array {
  if (mask.length !== height * width) throw new Error(`encodePaletteMask: ${mask.length} values for ${height}x${width} (HxW)`);
  const cmap = vocColormap();
  const palette: [number, number, number][] = [];
  for (let i = 0; i < 256; i++) palette.push([cmap[3 * i], cmap[3 * i + 1], cmap[3 * i + 2]]);
  return encode({ width, height, data: mask, channels: 1, depth: 8, palette });
}

/**
 * Write a label mask as a VOC palette PNG (see {@link encodePaletteMask}), to a temporary name then renamed.
 * @param file output path ending in `.png`; its folder must exist.
 * @throws Error naming the file when it cannot be written.
 */
export function writePaletteMask(file: string, mask: Uint8Array, height: number, width: number): void {
  writeFileAtomicSync(file, encodePaletteMask(mask, height, width));
}

/** Options of `overlayMask`. */
export interface OverlayOptions {
  /** Weight of the class colour in the blend, 0..1 (mmseg's `opacity`). Default 0.5. */
  opacity?: number;
  /** Classes left uncoloured (the image shows through), e.g. VOC `background`. Default none. */
  transparentClasses?: readonly number[];
}

/**
 * Blend each pixel's class colour (VOC colormap) over an RGB image: `out = (1 − a)·image + a·colour` with
 * `a = opacity`, except for `transparentClasses` and void (255), which keep the image.
 * @param image [H * W * 3] uint8 RGB, row-major. Not modified.
 * @param mask [H * W] uint8 class indices, same H and W.
 * @returns a new [H * W * 3] uint8 RGB image.
 * @throws Error when the sizes disagree or `opacity` is outside 0..1.
 */
export function overlayMask(
  image: Uint8Array,
  mask: Uint8Array,
  height: number,
  width: number,
  opts: OverlayOptions = {},
): Uint8Array {
  const n = height * width;
  if (image.length !== n * 3 || mask.length !== n) {
    throw new Error(`overlayMask: image has ${image.length} values and mask ${mask.length} for ${height}x${width} (HxW)`);
  }
  const a = opts.opacity ?? 0.5;
  if (!(a >= 0 && a <= 1)) throw new Error(`overlayMask: opacity must be in 0..1, got ${a}`);
  const cmap = vocColormap();
  const transparent = new Uint8Array(256);
  for (const k of opts.transparentClasses ?? []) transparent[k] = 1;
  transparent[255] = 1;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const k = mask[i];
    for (let c = 0; c < 3; c++) {
      const v = image[3 * i + c];
      out[3 * i + c] = transparent[k] ? v : Math.round((1 - a) * v + a * cmap[3 * k + c]);
    }
  }
  return out;
}

/** Escape text for an SVG text node. */
function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/** One entry of an overlay's legend. */
export interface LegendEntry {
  /** Class index: picks the colormap colour. */
  label: number;
  /** Text shown next to the swatch, e.g. `person 23.4%`. */
  text: string;
  /** The class is left uncoloured in the overlay (`transparentClasses`): its swatch is an empty outlined square. */
  clear?: boolean;
}

/** Grey of the legend strip below the picture (RGB). */
export const LEGEND_BACKGROUND = { r: 32, g: 32, b: 32 } as const;

/**
 * Write a colourised overlay picture: {@link overlayMask} of the image, with a legend strip below it (one colour
 * swatch with a white outline and text per entry; `clear` entries an empty outline), as PNG (`.png`) or JPEG
 * quality 90 (`.jpg`, `.jpeg`); written to a temporary name, then renamed. The legend starts at x = 6 and y = H + 5,
 * swatches are `row - 4` pixels square with `row = round(1.6 · max(12, round(min(H, W) / 30)))`.
 * @param image [H * W * 3] uint8 RGB (the image the mask belongs to, EXIF-oriented).
 * @param mask [H * W] uint8 class indices.
 * @param legend entries to list below the image (none: no strip).
 * @throws Error naming the file for another extension or a write failure; the errors of `overlayMask`.
 */
export async function writeOverlay(
  file: string,
  image: Uint8Array,
  mask: Uint8Array,
  height: number,
  width: number,
  legend: readonly LegendEntry[],
  opts: OverlayOptions = {},
): Promise<void> {
  const ext = path.extname(file).toLowerCase();
  if (!['.png', '.jpg', '.jpeg'].includes(ext)) throw new Error(`writeOverlay: '${file}' must end in .png, .jpg or .jpeg`);
  const blended = overlayMask(image, mask, height, width, opts);
  const cmap = vocColormap();
  const fontSize = Math.max(12, Math.round(Math.min(width, height) / 30));
  const row = Math.round(fontSize * 1.6);
  // Entries flow left to right and wrap; width per entry estimated at 0.6 em per character plus the swatch.
  const items: { x: number; y: number; e: LegendEntry }[] = [];
  let x = 6;
  let y = 0;
  for (const e of legend) {
    const w = row + Math.ceil(0.6 * fontSize * e.text.length) + 16;
    if (x + w > width && x > 6) {
      x = 6;
      y += row;
    }
    items.push({ x, y, e });
    x += w;
  }
  const stripHeight = legend.length > 0 ? y + row + 6 : 0;
  const parts = items.map(({ x: lx, y: ly, e }) => {
    const [r, g, b] = [cmap[3 * e.label], cmap[3 * e.label + 1], cmap[3 * e.label + 2]];
    const top = height + 3 + ly;
    // Every swatch has a 2 px white outline on whole-pixel edges, so dark colours (VOC class 0 is black) stay visible
    // on the grey strip; an uncoloured class shows the strip through its outline.
    const fill = e.clear ? 'none' : `rgb(${r},${g},${b})`;
    return (
      `<rect x="${lx}" y="${top + 2}" width="${row - 4}" height="${row - 4}" fill="${fill}" stroke="#ffffff" stroke-width="2"/>` +
      `<text x="${lx + row + 2}" y="${top + Math.round(row * 0.72)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" ` +
      `fill="#ffffff">${escapeXml(e.text)}</text>`
    );
  });
  const total = height + stripHeight;
  let pipe = sharp(Buffer.from(blended.buffer, blended.byteOffset, blended.length), { raw: { width, height, channels: 3 } })
    .extend({ bottom: stripHeight, background: LEGEND_BACKGROUND });
  if (parts.length > 0) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${total}">${parts.join('')}</svg>`;
    // extend and composite in one pipeline would composite before extending: materialise the extended image first.
    const extended = await pipe.raw().toBuffer({ resolveWithObject: true });
    useBundledFont();
    pipe = sharp(extended.data, { raw: { width, height: total, channels: 3 } }).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  }
  // The SVG composite adds an alpha channel: keep the picture RGB.
  pipe = pipe.removeAlpha();
  pipe = ext === '.png' ? pipe.png() : pipe.jpeg({ quality: 90 });
  const encoded = pipe;
  await writeAtomicWith(file, (tmp) => encoded.toFile(tmp));
}
