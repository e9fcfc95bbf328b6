/**
 * Image decoding with sharp (libvips): any file sharp reads becomes 8-bit sRGB RGB, HWC, with EXIF orientation
 * applied, optionally cut and resampled in the same libvips pipeline (one decode, no intermediate full-size copy).
 *
 * Conversions (the result PIL's `Image.open(f).convert('RGB')` gives, as torchvision's `pil_loader` does):
 * - EXIF orientation 2..8 is applied (`sharp.rotate()` with no angle); sizes reported are after orientation.
 *   PIL does not apply EXIF orientation on `open`; torchvision users who want it call `ImageOps.exif_transpose`.
 *   Exception, for annotated images: when the tag swaps width and height (5..8) and the annotation's size is the
 *   stored one, the annotation was drawn on the stored pixels (as PIL and torchvision's `read_image` show them), so
 *   the tag is not applied (`DecodeSpec.exifOrientation`, `decodeRgb`'s `annotatedSize`) and the caller warns.
 * - grayscale → R = G = B; palette → its colours; alpha dropped without compositing (as PIL's convert('RGB'));
 *   CMYK → sRGB through libvips' colour management; 16-bit → 8-bit (v16 / 257, rounded).
 * - GIF (and any multi-page input): the first frame is decoded, as PIL's `Image.open` does (frame 0).
 *   The ImageFolder adapter does not list `.gif` files at all (torchvision's IMG_EXTENSIONS has no GIF).
 * - A missing, unreadable, truncated or non-image file throws an `ImageDecodeError` naming the file and the reason.
 *   Truncated JPEGs are errors (sharp `failOn: 'warning'`), where PIL would need `LOAD_TRUNCATED_IMAGES`.
 *
 * Cropping runs inside libvips (after orientation, before colour conversion); resampling runs in `resample.ts`
 * (Pillow's arithmetic, bit-exact with torchvision on PIL images), only for the output pixels kept by `postCrop`.
 */
import { promises as fs } from 'fs';
import sharp from 'sharp';
import type { ImageMeta, RgbImage } from '../types';
import { cropMeta, identityMeta, resizeMeta, type CropWindow } from './geometry';
import { resampleImage, type ResizeKernel } from './resample';

/** Thrown when a file cannot be read or decoded. `file` names it, the message says why. */
export class ImageDecodeError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`cannot decode image '${file}': ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

/** A file read into memory with its header probed. Cheap: pixels are not decoded yet. */
export interface EncodedImage {
  file: string;
  /** The file's bytes. */
  bytes: Buffer;
  /** Container format sharp detected (`jpeg`, `png`, `gif`, `webp`, `tiff`, ...). */
  format: string;
  /** H after EXIF orientation, pixels. */
  height: number;
  /** W after EXIF orientation, pixels. */
  width: number;
  /** EXIF orientation tag, 1..8 (1 when absent). 5..8 swap width and height. */
  orientation: number;
}

/** Whether an EXIF orientation tag swaps width and height (5..8: a transpose, a rotation by 90° or 270°). */
export function orientationSwapsSides(orientation: number | undefined): boolean {
  return orientation !== undefined && orientation >= 5 && orientation <= 8;
}

/**
 * Whether to decode an image as stored rather than EXIF-oriented, given the size its annotation states: yes when
 * the tag swaps its sides and the annotation's (height, width) is the stored size, not the oriented one.
 * @param orientation - the EXIF tag (1..8).
 * @param oriented - H, W after orientation.
 * @param annotated - H, W the annotation states.
 */
export function followsStoredPixels(
  orientation: number,
  oriented: { height: number; width: number },
  annotated: { height: number; width: number },
): boolean {
  return orientationSwapsSides(orientation) && oriented.height !== oriented.width &&
    annotated.height === oriented.width && annotated.width === oriented.height;
}

const warnedOrientation = new Set<string>();

/**
 * Warn, once per dataset (`source`), that an image's EXIF orientation was not applied because its annotation
 * matches the stored pixels (one `console.warn` line naming the first file). Later calls for the same source are
 * silent. In a worker thread the "once" holds per thread.
 */
export function warnExifOrientationIgnored(source: string, file: string, orientation: number): void {
  if (warnedOrientation.has(source)) return;
  warnedOrientation.add(source);
  console.warn(`warning: '${source}': image '${file}' has EXIF orientation ${orientation} (width and height swapped), ` +
    'but the annotation gives the stored size: the annotation is followed and the image used as stored, not rotated, as ' +
    "PIL and torchvision's read_image read it (said once for this dataset; `resvision check-data` counts such images)");
}

/** What `decodeImage` does after orientation, in this order; every step is optional. */
export interface DecodeSpec {
  /** Window of the oriented image to cut before resizing, integer pixels of the oriented original. */
  crop?: CropWindow;
  /** Size to resample (the cropped) image to, pixels (aspect ratio not kept: `fit: 'fill'`). */
  resize?: { height: number; width: number };
  /** Window to cut after resizing, integer pixels of the resized image. */
  postCrop?: CropWindow;
  /** Resampling filter for `resize` (default `bilinear`). */
  kernel?: ResizeKernel;
  /**
   * `apply` (default): EXIF orientation is applied and windows refer to the oriented image; `ignore`: the image is
   * used as stored (windows refer to the stored pixels).
   */
  exifOrientation?: 'apply' | 'ignore';
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const lines = msg.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  return [...new Set(lines)].slice(0, 2).join('; ');
}

/**
 * Read a file and probe its header (format, oriented size) without decoding pixels.
 * @param file - path of an image file.
 * @returns the bytes and the oriented H, W.
 * @throws ImageDecodeError when the file cannot be read or is not an image format sharp knows.
 */
export async function readImageFile(file: string): Promise<EncodedImage> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new ImageDecodeError(file, `cannot read file (${firstLine(e)})`);
  }
  return probeImageBytes(bytes, file);
}

/**
 * Probe the header of an encoded image already in memory (format, oriented size) without decoding pixels.
 * @param bytes - the encoded file (JPEG, PNG, WebP, ...).
 * @param file - the name errors and `EncodedImage.file` give it.
 * @throws ImageDecodeError when the bytes are empty or not an image format sharp knows.
 */
export async function probeImageBytes(bytes: Buffer, file: string): Promise<EncodedImage> {
  if (bytes.length === 0) throw new ImageDecodeError(file, 'file is empty');
  let md: sharp.Metadata;
  try {
    md = await sharp(bytes).metadata();
  } catch (e) {
    throw new ImageDecodeError(file, `not a readable image (${firstLine(e)})`);
  }
  const height = md.autoOrient?.height ?? md.height;
  const width = md.autoOrient?.width ?? md.width;
  if (!height || !width) throw new ImageDecodeError(file, `header has no size (format ${md.format})`);
  return { file, bytes, format: String(md.format), height, width, orientation: md.orientation ?? 1 };
}

function checkWindow(file: string, what: string, win: CropWindow, height: number, width: number): void {
  const ok = [win.left, win.top, win.width, win.height].every(Number.isInteger) && win.left >= 0 && win.top >= 0 &&
    win.width > 0 && win.height > 0 && win.left + win.width <= width && win.top + win.height <= height;
  if (!ok) {
    throw new Error(`decodeImage: ${what} ${JSON.stringify(win)} is not an integer window inside the ` +
      `${height}x${width} (HxW) image '${file}'`);
  }
}

/**
 * Decode an image to 8-bit RGB HWC, applying EXIF orientation, then `spec.crop` (in the libvips pipeline),
 * `spec.resize` and `spec.postCrop` (Pillow-exact resampling of the kept pixels only).
 * @param input - a path, or an `EncodedImage` from `readImageFile` (avoids reading the file twice).
 * @param spec - optional geometry; windows are validated against the oriented size.
 * @returns `image` [H, W, 3] uint8 RGB (new buffer, caller owns) and its `meta` (original size, crop, scale).
 * @throws ImageDecodeError for unreadable, truncated or non-image files; Error for windows outside the image.
 * Reference: torchvision `datasets/folder.py` `pil_loader` (convert('RGB')), `transforms.functional.resized_crop`
 * (crop, then resize); Pillow `Image.resize`; sharp `rotate`, `extract`.
 */
export async function decodeImage(
  input: string | EncodedImage,
  spec: DecodeSpec = {},
): Promise<{ image: RgbImage<Uint8Array>; meta: ImageMeta }> {
  const enc = typeof input === 'string' ? await readImageFile(input) : input;
  const { file } = enc;
  const stored = spec.exifOrientation === 'ignore' && orientationSwapsSides(enc.orientation);
  let meta = stored ? identityMeta(file, enc.width, enc.height) : identityMeta(file, enc.height, enc.width);
  // failOn 'warning': truncated or corrupt pixel data is an error, not a grey half image.
  let pipe = sharp(enc.bytes, { failOn: 'warning' });
  if (spec.exifOrientation !== 'ignore') pipe = pipe.rotate();
  if (spec.crop) {
    checkWindow(file, 'crop', spec.crop, meta.height, meta.width);
    pipe = pipe.extract(spec.crop);
    meta = cropMeta(meta, spec.crop);
  }
  let resized = { height: meta.height, width: meta.width };
  if (spec.resize) {
    const { height, width } = spec.resize;
    if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
      throw new Error(`decodeImage: resize size ${height}x${width} (HxW) for '${file}' must be positive integers`);
    }
    resized = { height, width };
  }
  if (spec.postCrop) checkWindow(file, 'postCrop', spec.postCrop, resized.height, resized.width);
  pipe = pipe.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' });
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    out = await pipe.toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw new ImageDecodeError(file, firstLine(e));
  }
  const { data, info } = out;
  if (info.channels !== 3 || info.width !== meta.width || info.height !== meta.height) {
    throw new ImageDecodeError(file, `decoder returned ${info.height}x${info.width}x${info.channels}, expected ` +
      `${meta.height}x${meta.width}x3`);
  }
  // A view on sharp's output Buffer (its own native allocation, not Node's shared pool): no copy.
  let pixels = new Uint8Array(data.buffer, data.byteOffset, data.length);
  const win = spec.postCrop ?? { top: 0, left: 0, height: resized.height, width: resized.width };
  if (resized.height !== meta.height || resized.width !== meta.width || spec.postCrop) {
    pixels = resampleImage(pixels, meta.height, meta.width, 3, resized.height, resized.width,
      spec.kernel ?? 'bilinear', win);
  }
  meta = resizeMeta(meta, resized.height, resized.width);
  if (spec.postCrop) meta = cropMeta(meta, spec.postCrop);
  return { image: { data: pixels, height: win.height, width: win.width }, meta };
}

/**
 * Decode a file to 8-bit RGB HWC with EXIF orientation applied, in one libvips call that also reads the file (no
 * header probe, no JS-side read): the detection pipeline's decode, which checks the size against the annotation
 * afterwards. Same conversions as `decodeImage`.
 * @param file - path of an image file.
 * @param annotatedSize - the size the annotation states: when the oriented image has it with sides swapped and the
 *   EXIF tag swaps sides, the stored pixels are returned instead (`exifOrientationIgnored` holds the tag).
 * @returns [H, W, 3] uint8 RGB (a view on sharp's output buffer; caller owns).
 * @throws ImageDecodeError for missing, empty, unreadable, truncated or non-image files.
 * Reference: torchvision `datasets/folder.py` `pil_loader`; sharp `rotate`, `raw`.
 */
export async function decodeRgb(
  file: string,
  annotatedSize?: { height: number; width: number },
): Promise<RgbImage<Uint8Array> & { exifOrientationIgnored?: number }> {
  const image = await decodeRgbOnce(file, true);
  if (annotatedSize && image.height === annotatedSize.width && image.width === annotatedSize.height &&
    image.height !== image.width) {
    // Sides swapped relative to the annotation: if the EXIF tag did it, decode the stored pixels instead.
    let orientation = 1;
    try {
      orientation = (await sharp(file).metadata()).orientation ?? 1;
    } catch (e) {
      throw new ImageDecodeError(file, firstLine(e));
    }
    if (orientationSwapsSides(orientation)) return { ...(await decodeRgbOnce(file, false)), exifOrientationIgnored: orientation };
  }
  return image;
}

async function decodeRgbOnce(file: string, orient: boolean): Promise<RgbImage<Uint8Array>> {
  let out: { data: Buffer; info: sharp.OutputInfo };
  try {
    let pipe = sharp(file, { failOn: 'warning' });
    if (orient) pipe = pipe.rotate();
    out = await pipe.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    let reason = firstLine(e);
    try {
      const st = await fs.stat(file);
      if (st.size === 0) reason = 'file is empty';
    } catch (se) {
      reason = `cannot read file (${firstLine(se)})`;
    }
    throw new ImageDecodeError(file, reason);
  }
  const { data, info } = out;
  if (info.channels !== 3) throw new ImageDecodeError(file, `decoder returned ${info.channels} channels, expected 3`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: info.height, width: info.width };
}
