/**
 * Generated test images (no copied photographs): closed-form patterns written with sharp into a temporary folder.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';

/** A fresh temporary folder; remove it with `removeDir`. */
export async function makeTempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `resvision-${prefix}-`));
}

/** Recursively delete a folder made by `makeTempDir`. */
export async function removeDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * The pattern of scripts/parity/classification_transforms.py: R = floor(255 x / (W-1)), G = floor(255 y / (H-1)),
 * B = ((7x + 13y) mod 64) * 4. [H, W, 3] uint8.
 */
export function patternImage(height: number, width: number): Uint8Array {
  const out = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      out[i] = Math.floor((x * 255) / Math.max(width - 1, 1));
      out[i + 1] = Math.floor((y * 255) / Math.max(height - 1, 1));
      out[i + 2] = ((x * 7 + y * 13) % 64) * 4;
    }
  }
  return out;
}

/** Write [H, W, 3] uint8 pixels as a lossless PNG. */
export async function writePng(file: string, data: Uint8Array, height: number, width: number): Promise<string> {
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(file);
  return file;
}

/** Write a solid-colour JPEG (quality 95) of the given size. */
export async function writeSolidJpeg(file: string, height: number, width: number, rgb: [number, number, number]): Promise<string> {
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .jpeg({ quality: 95 }).toFile(file);
  return file;
}
