/**
 * Bookkeeping of `ImageMeta` through crops, resizes, flips and padding. Pure functions on numbers; no pixels. The
 * inverse, boxes back to the original image, is `boxesToOriginal` in `src/ops/boxes.ts` (shared with the heads).
 *
 * Reference: torchvision `models/detection/transform.py` (`resize_boxes`, `postprocess` mapping predictions back to
 * the original size), detectron2 `data/transforms/transform.py` (`apply_box` of crop/resize/flip transforms).
 */
import type { ImageMeta } from '../types';

/** An axis-aligned integer pixel window: columns [left, left+width), rows [top, top+height). */
export interface CropWindow {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The meta of an image fresh from the decoder: no crop, scale 1, no flip, no padding.
 * @param file - source path.
 * @param height - H of the decoded image (after EXIF orientation), pixels.
 * @param width - W of the decoded image (after EXIF orientation), pixels.
 */
export function identityMeta(file: string, height: number, width: number): ImageMeta {
  return {
    file,
    originalHeight: height,
    originalWidth: width,
    height,
    width,
    cropXyxy: [0, 0, width, height],
    scaleX: 1,
    scaleY: 1,
    flipped: false,
    padding: { top: 0, bottom: 0, left: 0, right: 0 },
    validRegionXyxy: [0, 0, width, height],
  };
}

function assertUnpadded(meta: ImageMeta, what: string): void {
  const p = meta.padding;
  if (p.top || p.bottom || p.left || p.right) {
    throw new Error(`${what}: '${meta.file}' is already padded (${JSON.stringify(p)}); pad as the last transform`);
  }
}

/**
 * The meta after cutting `win` out of the current image (window in current pixels).
 * @throws when the image is padded or the window leaves the image.
 */
export function cropMeta(meta: ImageMeta, win: CropWindow): ImageMeta {
  assertUnpadded(meta, 'crop');
  if (win.left < 0 || win.top < 0 || win.width <= 0 || win.height <= 0 ||
      win.left + win.width > meta.width || win.top + win.height > meta.height) {
    throw new Error(`crop: window ${JSON.stringify(win)} is not inside '${meta.file}' of size ` +
      `${meta.height}x${meta.width} (HxW)`);
  }
  const [cx0, cy0] = meta.cropXyxy;
  // In the current frame x_cur = (x - cx0) * sx, or contentW - (x - cx0) * sx when flipped. The new window's
  // left edge in original pixels is cx0 + left / sx, or cx0 + (W - (left + width)) / sx when flipped.
  const nx0 = meta.flipped ? cx0 + (meta.width - win.left - win.width) / meta.scaleX : cx0 + win.left / meta.scaleX;
  const ny0 = cy0 + win.top / meta.scaleY;
  return {
    ...meta,
    height: win.height,
    width: win.width,
    cropXyxy: [nx0, ny0, nx0 + win.width / meta.scaleX, ny0 + win.height / meta.scaleY],
    validRegionXyxy: [0, 0, win.width, win.height],
  };
}

/** The meta after resampling the current (unpadded) image to `height` x `width` pixels. */
export function resizeMeta(meta: ImageMeta, height: number, width: number): ImageMeta {
  assertUnpadded(meta, 'resize');
  return {
    ...meta,
    height,
    width,
    scaleX: meta.scaleX * (width / meta.width),
    scaleY: meta.scaleY * (height / meta.height),
    validRegionXyxy: [0, 0, width, height],
  };
}

/** The meta after a left-right mirror of the current (unpadded) image. */
export function flipMeta(meta: ImageMeta): ImageMeta {
  assertUnpadded(meta, 'horizontal flip');
  return { ...meta, flipped: !meta.flipped };
}

/** The meta after adding `bottom` rows and `right` columns of padding (detectron2/torchvision batch padding). */
export function padBottomRightMeta(meta: ImageMeta, height: number, width: number): ImageMeta {
  const bottom = height - meta.validRegionXyxy[3];
  const right = width - meta.validRegionXyxy[2];
  if (bottom < 0 || right < 0) {
    throw new Error(`pad: '${meta.file}' content ${meta.validRegionXyxy[3]}x${meta.validRegionXyxy[2]} (HxW) ` +
      `is larger than the padded size ${height}x${width}`);
  }
  return { ...meta, height, width, padding: { ...meta.padding, bottom, right } };
}
