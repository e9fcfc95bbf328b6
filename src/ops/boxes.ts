/**
 * Box arithmetic on flat typed arrays: format conversion, areas, clipping.
 *
 * Conventions: a set of M boxes is a flat array of length 4M, box i at [4i, 4i + 4). `xyxy` is
 * (x1, y1, x2, y2) with x2 >= x1, y2 >= y1; `xywh` is (x1, y1, width, height) (COCO's results format);
 * `cxcywh` is (center x, center y, width, height). Coordinates are continuous pixels: a box covering a whole
 * W x H image is [0, 0, W, H].
 *
 * Reference: torchvision `ops/boxes.py` (`box_convert`, `box_area`, `clip_boxes_to_image`).
 */

/** A flat array of boxes, 4 numbers per box. */
export type BoxArray = Float32Array | Float64Array;

function checkFlat(boxes: ArrayLike<number>, what: string): number {
  if (boxes.length % 4 !== 0) throw new Error(`${what}: expected a flat [M * 4] box array, got length ${boxes.length}`);
  return boxes.length / 4;
}

/**
 * Convert xyxy boxes to xywh (COCO results format).
 * @param boxes [M * 4] xyxy, pixels.
 * @returns new [M * 4] float32 xywh, pixels.
 * @throws Error when the length is not a multiple of 4.
 */
export function boxesXyxyToXywh(boxes: ArrayLike<number>): Float32Array {
  const m = checkFlat(boxes, 'boxesXyxyToXywh');
  const out = new Float32Array(4 * m);
  for (let i = 0; i < 4 * m; i += 4) {
    out[i] = boxes[i];
    out[i + 1] = boxes[i + 1];
    out[i + 2] = boxes[i + 2] - boxes[i];
    out[i + 3] = boxes[i + 3] - boxes[i + 1];
  }
  return out;
}

/**
 * Convert xywh boxes to xyxy.
 * @param boxes [M * 4] xywh, pixels.
 * @returns new [M * 4] float32 xyxy, pixels.
 * @throws Error when the length is not a multiple of 4.
 */
export function boxesXywhToXyxy(boxes: ArrayLike<number>): Float32Array {
  const m = checkFlat(boxes, 'boxesXywhToXyxy');
  const out = new Float32Array(4 * m);
  for (let i = 0; i < 4 * m; i += 4) {
    out[i] = boxes[i];
    out[i + 1] = boxes[i + 1];
    out[i + 2] = boxes[i] + boxes[i + 2];
    out[i + 3] = boxes[i + 1] + boxes[i + 3];
  }
  return out;
}

/**
 * Areas (x2 - x1) * (y2 - y1) of xyxy boxes, in float32 arithmetic as torchvision's `box_area` on float32 boxes.
 * @param boxes [M * 4] xyxy, pixels.
 * @returns new [M] float32, square pixels (negative for inverted boxes, as torchvision).
 */
export function boxAreas(boxes: ArrayLike<number>): Float32Array {
  const m = checkFlat(boxes, 'boxAreas');
  const out = new Float32Array(m);
  const f = Math.fround;
  for (let i = 0; i < m; i++) out[i] = f(f(boxes[4 * i + 2] - boxes[4 * i]) * f(boxes[4 * i + 3] - boxes[4 * i + 1]));
  return out;
}

/**
 * Clamp xyxy boxes to an image: x to [0, width], y to [0, height] (torchvision `clip_boxes_to_image`).
 * @param boxes [M * 4] xyxy, pixels; modified in place and returned.
 * @param height image height H, pixels.
 * @param width image width W, pixels.
 * @returns `boxes`.
 */
export function clipBoxesInPlace<T extends BoxArray>(boxes: T, height: number, width: number): T {
  checkFlat(boxes, 'clipBoxesInPlace');
  for (let i = 0; i < boxes.length; i += 4) {
    boxes[i] = Math.min(Math.max(boxes[i], 0), width);
    boxes[i + 1] = Math.min(Math.max(boxes[i + 1], 0), height);
    boxes[i + 2] = Math.min(Math.max(boxes[i + 2], 0), width);
    boxes[i + 3] = Math.min(Math.max(boxes[i + 3], 0), height);
  }
  return boxes;
}

/**
 * How a network input relates to its original image: the fields of the datasets' `ImageMeta` the inverse needs
 * (an `ImageMeta` can be passed directly). A point (x, y) of the original maps to the input as
 * `xc = (x - cropXyxy[0]) * scaleX`, `yc = (y - cropXyxy[1]) * scaleY`, `xc = contentWidth - xc` when
 * `flipped`, then `+ padding.left`, `+ padding.top`.
 */
export interface OriginalFrame {
  originalHeight: number;
  originalWidth: number;
  /** Region of the original shown by the content, xyxy, original pixels. */
  cropXyxy: readonly [number, number, number, number];
  /** Input pixels per original pixel along x. */
  scaleX: number;
  /** Input pixels per original pixel along y. */
  scaleY: number;
  flipped: boolean;
  padding: { top: number; left: number };
  /** Content area of the input, xyxy: its width is the flip axis. */
  validRegionXyxy: readonly [number, number, number, number];
}

/**
 * Map boxes from a transformed image back to its original image (after EXIF orientation): the inverse of the
 * crop, resize, flip and padding that `frame` records. Each coordinate is computed in float64 and rounded once.
 * @param boxes [M * 4] xyxy, absolute pixels of the transformed image.
 * @param frame the transformed image's geometry.
 * @returns a new [M * 4] float32 xyxy array in original-image pixels (not clipped).
 * @throws Error when a scale is not positive or the length is not a multiple of 4.
 * Reference: torchvision `transform.py` `resize_boxes` (ratio of original to resized size), extended with the
 * crop offset, flip and padding.
 */
export function boxesToOriginal(boxes: ArrayLike<number>, frame: OriginalFrame): Float32Array {
  checkFlat(boxes, 'boxesToOriginal');
  if (!(frame.scaleX > 0 && frame.scaleY > 0)) throw new Error(`boxesToOriginal: scales must be positive, got ${frame.scaleX}, ${frame.scaleY}`);
  const out = new Float32Array(boxes.length);
  const contentW = frame.validRegionXyxy[2] - frame.validRegionXyxy[0];
  const [cx0, cy0] = frame.cropXyxy;
  for (let i = 0; i < boxes.length; i += 4) {
    let x0 = boxes[i] - frame.padding.left;
    let x1 = boxes[i + 2] - frame.padding.left;
    if (frame.flipped) [x0, x1] = [contentW - x1, contentW - x0];
    out[i] = x0 / frame.scaleX + cx0;
    out[i + 1] = (boxes[i + 1] - frame.padding.top) / frame.scaleY + cy0;
    out[i + 2] = x1 / frame.scaleX + cx0;
    out[i + 3] = (boxes[i + 3] - frame.padding.top) / frame.scaleY + cy0;
  }
  return out;
}
