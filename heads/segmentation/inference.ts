/**
 * Test-time inference of a segmentation model on one image: whole-image or sliding-window passes over the image at
 * one or more scales, optionally also over its mirror image, logits resized bilinearly to the original size, turned
 * into probabilities and averaged; the class map is their argmax.
 *
 * The images at each scale come resized and normalized from the data pipeline (`multiScaleInputs` in
 * `datasets/pipeline/segmentation_presets.ts`): no preprocessing hides here.
 *
 * Reference: mmsegmentation `models/segmentors/encoder_decoder.py` (0.x: `whole_inference`, `slide_inference`,
 * `aug_test`: logits resized to the original shape, softmax, mean over scales and flips).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SegmentationForwardContext } from './dropout';
import { upsampleLogits } from './upsample';

/**
 * What inference needs of a segmentation model (`SegmentationModel`, `SemanticFpn`): its class count, the size
 * its input must be divisible by, and a forward pass giving logits at the input size.
 */
export interface SegmentationPredictor {
  /** Classes K. */
  readonly numClasses: number;
  /**
   * Input height and width must be multiples of this (1 or absent: any size). Each pass pads its input at the
   * bottom and right with 0 (the normalized mean) to the next multiple and crops the logits back, as detectron2's
   * `ImageList.from_tensors(size_divisibility)` and `sem_seg_postprocess` do.
   */
  readonly sizeDivisibility?: number;
  /** @returns `logits` [N, H, W, K] float32 (and optionally `auxLogits`, disposed unread); caller owns them. */
  forward(images: tf.Tensor4D, ctx: SegmentationForwardContext): { logits: tf.Tensor4D; auxLogits?: tf.Tensor4D };
}

/**
 * A segmentation model whose forward pass runs outside tfjs and is asynchronous (ONNX Runtime:
 * `OnnxSegmenter` in `src/engine/onnx_task_models.ts`); inference is otherwise the same.
 */
export interface AsyncSegmentationPredictor {
  readonly numClasses: number;
  /** As `SegmentationPredictor.sizeDivisibility`. */
  readonly sizeDivisibility?: number;
  /**
   * @param images [N, H, W, 3] float32 normalized RGB, NHWC, H and W multiples of `sizeDivisibility`; not disposed.
   * @returns logits [N, H, W, K] float32 at the input size; caller disposes.
   */
  forwardAsync(images: tf.Tensor4D): Promise<tf.Tensor4D>;
}

/**
 * Logits of one pass at the input size: the input padded at the bottom and right to the model's size
 * divisibility, the logits cropped back to [1, h, w, K].
 * @param x [1, h, w, 3] float32 normalized; not disposed.
 * @returns [1, h, w, K] float32; caller disposes.
 */
async function passLogits(model: SegmentationPredictor | AsyncSegmentationPredictor, x: tf.Tensor4D): Promise<tf.Tensor4D> {
  const d = model.sizeDivisibility ?? 1;
  const [, h, w] = x.shape;
  const ph = Math.ceil(h / d) * d;
  const pw = Math.ceil(w / d) * d;
  const crop = (logits: tf.Tensor4D): tf.Tensor4D => (ph === h && pw === w ? logits : tf.slice(logits, [0, 0, 0, 0], [1, h, w, logits.shape[3]]));
  const pad = (): tf.Tensor4D => (ph === h && pw === w ? x : tf.pad(x, [[0, 0], [0, ph - h], [0, pw - w], [0, 0]]));
  if (!('forwardAsync' in model)) {
    return tf.tidy(() => {
      const out = model.forward(pad(), { training: false });
      out.auxLogits?.dispose();
      return crop(out.logits);
    });
  }
  const padded = pad();
  let logits: tf.Tensor4D;
  try {
    logits = await model.forwardAsync(padded);
  } finally {
    if (padded !== x) padded.dispose();
  }
  const out = crop(logits);
  if (out !== logits) logits.dispose();
  return out;
}

/** Windows of `cropSize` x `cropSize` pixels every `stride` pixels. */
export interface SlidingWindow {
  cropSize: number;
  stride: number;
}

/** One image at one test scale: normalized RGB, HWC, row-major. */
export interface ScaledImage {
  /** [h * w * 3] float32, normalized RGB. */
  data: Float32Array;
  height: number;
  width: number;
}

/** What `inferSegmentation` (and `SegmentationModel.predict`) take. */
export interface SegmentationInferenceInput {
  /** The image at each test scale; the probabilities of all passes are averaged. At least one. */
  scaled: readonly ScaledImage[];
  /** Original height H and width W, pixels: the size of the returned map. */
  height: number;
  width: number;
  /** Also run on the horizontally flipped image (its logits flipped back). */
  flip: boolean;
  /** Windows with logits averaged where they overlap; null: one pass on the whole image. */
  slidingWindow: SlidingWindow | null;
}

/** Per-pixel classes of one image at its original size. */
export interface SegmentationInferenceResult {
  /** [H * W] uint8 class indices 0..K-1, row-major. */
  mask: Uint8Array;
  /** [H * W * K] float32 mean probabilities 0..1. */
  probabilities: Float32Array;
}

/**
 * mmseg's `slide_inference`: windows at `y1 = i·stride` (then `y2 = min(y1 + crop, H)`, `y1 = max(y2 − crop, 0)`),
 * the same along x, logits summed and divided by the number of windows covering each pixel.
 * @param x [1, H, W, 3] float32 normalized. Not disposed.
 * @returns [1, H, W, K] float32 logits; caller disposes.
 */
async function slideLogits(model: SegmentationPredictor | AsyncSegmentationPredictor, x: tf.Tensor4D, cropSize: number, stride: number): Promise<tf.Tensor4D> {
  const [, h, w] = x.shape;
  const k = model.numClasses;
  const grids = (n: number): number => Math.floor(Math.max(n - cropSize + stride - 1, 0) / stride) + 1;
  const sum = new Float32Array(h * w * k);
  const count = new Uint16Array(h * w);
  for (let i = 0; i < grids(h); i++) {
    for (let j = 0; j < grids(w); j++) {
      const y2 = Math.min(i * stride + cropSize, h);
      const x2 = Math.min(j * stride + cropSize, w);
      const y1 = Math.max(y2 - cropSize, 0);
      const x1 = Math.max(x2 - cropSize, 0);
      const tile = tf.slice(x, [0, y1, x1, 0], [1, y2 - y1, x2 - x1, 3]);
      const logits = await passLogits(model, tile).finally(() => tile.dispose());
      const v = (await logits.data()) as Float32Array;
      logits.dispose();
      const ww = x2 - x1;
      for (let y = y1; y < y2; y++) {
        for (let xx = x1; xx < x2; xx++) {
          const src = ((y - y1) * ww + (xx - x1)) * k;
          const dst = (y * w + xx) * k;
          for (let c = 0; c < k; c++) sum[dst + c] += v[src + c];
          count[y * w + xx]++;
        }
      }
    }
  }
  for (let p = 0; p < h * w; p++) for (let c = 0; c < k; c++) sum[p * k + c] /= count[p];
  return tf.tensor4d(sum, [1, h, w, k]);
}

/**
 * Per-pixel classes of one image at its original size (see the module docstring for the passes and the merge).
 * @returns the class map and the mean probabilities; no tensor outlives the call.
 * @throws Error on no scaled image, or a sliding window whose crop size or stride is not a positive integer.
 * Reference: mmsegmentation `EncoderDecoder.inference` / `aug_test` (0.x): logits → bilinear resize to the
 * original shape (`align_corners=False`) → softmax → flip back → mean over passes → argmax.
 */
export async function inferSegmentation(model: SegmentationPredictor | AsyncSegmentationPredictor, input: SegmentationInferenceInput): Promise<SegmentationInferenceResult> {
  if (input.scaled.length === 0) throw new Error('inferSegmentation: no scaled image given');
  const sw = input.slidingWindow;
  if (sw && !(Number.isInteger(sw.cropSize) && sw.cropSize > 0 && Number.isInteger(sw.stride) && sw.stride > 0)) {
    throw new Error(`eval.slidingWindow needs positive integer cropSize and stride, got ${JSON.stringify(sw)}`);
  }
  const { height: H, width: W } = input;
  let acc: tf.Tensor4D | undefined;
  try {
    for (const scaled of input.scaled) {
      const x = tf.tensor4d(scaled.data, [1, scaled.height, scaled.width, 3]);
      try {
        for (const flipped of input.flip ? [false, true] : [false]) {
          const image = flipped ? tf.reverse(x, 2) : x;
          let logits: tf.Tensor4D;
          try {
            if (sw) logits = await slideLogits(model, image, sw.cropSize, sw.stride);
            else logits = await passLogits(model, image);
          } finally {
            if (image !== x) image.dispose();
          }
          const prev: tf.Tensor4D | undefined = acc;
          acc = tf.tidy(() => {
            const l = flipped ? tf.reverse(logits, 2) : logits;
            const p = tf.softmax(upsampleLogits(l as tf.Tensor4D, H, W)) as tf.Tensor4D;
            return prev ? tf.add(prev, p) : p;
          });
          prev?.dispose();
          logits.dispose();
        }
      } finally {
        x.dispose();
      }
    }
    const passes = input.scaled.length * (input.flip ? 2 : 1);
    const [labels, probs] = tf.tidy(() => [tf.argMax(acc!, -1), tf.div(acc!, passes)]);
    try {
      const [l, p] = await Promise.all([labels.data(), probs.data()]);
      return { mask: Uint8Array.from(l as Int32Array), probabilities: p as Float32Array };
    } finally {
      tf.dispose([labels, probs]);
    }
  } finally {
    acc?.dispose();
  }
}
