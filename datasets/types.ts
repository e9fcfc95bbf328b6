/**
 * The sample shapes every dataset adapter returns, and the geometry record (`ImageMeta`) that ties a transformed
 * image back to the file it came from.
 *
 * Conventions (project-wide):
 * - Images are HWC, row-major, RGB, 3 channels: `data[(y * width + x) * 3 + c]`. Before normalization the data is
 *   `Uint8Array` (0..255, sRGB); after `normalizeImage` it is `Float32Array` ((v / 255 - mean[c]) / std[c]).
 * - Boxes are `xyxy` in absolute pixels of the image they are stored with, continuous coordinates: pixel (x, y)
 *   covers [x, x+1) x [y, y+1), so a box covering a whole W x H image is `[0, 0, W, H]` (torchvision / detectron2).
 * - `label` is contiguous 0..K-1; a dataset's own ids (COCO `category_id`) are converted once, in the adapter.
 *
 * Reference: torchvision `datasets/folder.py` (classification samples), torchvision `models/detection/transform.py`
 * (`GeneralizedRCNNTransform`: original sizes kept to map predictions back), detectron2 `data/transforms`.
 */

/** Element type of an image buffer: raw 8-bit pixels or normalized float32. */
export type PixelData = Uint8Array | Float32Array;

/**
 * An RGB image, HWC row-major, 3 channels.
 * `data.length === height * width * 3`.
 */
export interface RgbImage<T extends PixelData = PixelData> {
  /** [H, W, 3] pixels: `Uint8Array` 0..255 sRGB, or `Float32Array` after normalization. */
  data: T;
  /** H, pixels. */
  height: number;
  /** W, pixels. */
  width: number;
}

/** Padding added around the content area, pixels. */
export interface Padding {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * How an output image relates to its source file. The content area of the output (`validRegionXyxy`) shows the
 * region `cropXyxy` of the original image, scaled by (`scaleX`, `scaleY`) and then, when `flipped`, mirrored
 * horizontally; padding (value 0 before normalization) fills the rest.
 *
 * A point (x, y) of the original image (after EXIF orientation) maps to the output as
 * `xc = (x - cropXyxy[0]) * scaleX`, `yc = (y - cropXyxy[1]) * scaleY`, then `xc = contentWidth - xc` when `flipped`,
 * then `xo = xc + padding.left`, `yo = yc + padding.top` (continuous pixel coordinates). `boxesToOriginal` in
 * `src/ops/boxes.ts` inverts it.
 */
export interface ImageMeta {
  /** Path of the source file, as the adapter found it. */
  file: string;
  /** Height of the decoded original image, pixels, after EXIF orientation is applied. */
  originalHeight: number;
  /** Width of the decoded original image, pixels, after EXIF orientation is applied. */
  originalWidth: number;
  /** Current image height H (content plus padding), pixels. */
  height: number;
  /** Current image width W (content plus padding), pixels. */
  width: number;
  /** Region of the original image shown by the content area, xyxy, original pixels (may be fractional). */
  cropXyxy: [number, number, number, number];
  /** Output pixels per original pixel along x. */
  scaleX: number;
  /** Output pixels per original pixel along y. */
  scaleY: number;
  /** True when the content was mirrored left-right after scaling. */
  flipped: boolean;
  /** Padding around the content, pixels. */
  padding: Padding;
  /** The content area in output pixels, xyxy: `[padding.left, padding.top, W - padding.right, H - padding.bottom]`. */
  validRegionXyxy: [number, number, number, number];
}

/** A classification sample (the shape torchvision's `ImageFolder.__getitem__` returns, plus its geometry). */
export interface ClassificationSample<T extends PixelData = PixelData> {
  /** [H, W, 3] RGB image. */
  image: RgbImage<T>;
  /** Class index, contiguous 0..K-1. */
  label: number;
  meta: ImageMeta;
}

/**
 * Detection ground truth for one image.
 * Reference: torchvision detection references (`target["boxes"]`, `target["labels"]`, `iscrowd`), VOC `difficult`.
 */
export interface DetectionTarget {
  /** [M * 4] float32, xyxy, absolute pixels of the image this target is stored with. */
  boxes: Float32Array;
  /** [M] int32, contiguous 0..K-1 (background not counted). */
  labels: Int32Array;
  /** [M] 0/1: COCO crowd regions (matched by intersection over the detection's area only). */
  iscrowd?: Uint8Array;
  /** [M] 0/1: VOC `difficult` objects (neither true nor false positives in VOC AP). */
  difficult?: Uint8Array;
}

/** Value of `SegmentationTarget.mask` for pixels that no loss or metric counts (VOC void, padding). */
export const IGNORE_LABEL = 255;

/**
 * Semantic segmentation ground truth for one image.
 * Reference: torchvision segmentation references (`ignore_index=255`), VOC `SegmentationClass` PNGs.
 */
export interface SegmentationTarget {
  /** [H * W] uint8, row-major, class index per pixel; `IGNORE_LABEL` (255) = ignore. Same H, W as the image. */
  mask: Uint8Array;
}

/** A detection sample: image, boxes in that image's pixels, geometry. */
export interface DetectionSample<T extends PixelData = PixelData> {
  image: RgbImage<T>;
  target: DetectionTarget;
  meta: ImageMeta;
}

/** A semantic segmentation sample: image, mask of the same H x W, geometry. */
export interface SegmentationSample<T extends PixelData = PixelData> {
  image: RgbImage<T>;
  target: SegmentationTarget;
  meta: ImageMeta;
}

/**
 * What geometric transforms accept: an image, its geometry and, optionally, a target that moves with it
 * (detection boxes scale/crop/flip with the image; segmentation masks are resampled with nearest neighbour).
 * Classification samples pass through with their `label` untouched.
 */
export interface ImageSample<T extends PixelData = PixelData> {
  image: RgbImage<T>;
  meta: ImageMeta;
  target?: DetectionTarget | SegmentationTarget;
}
