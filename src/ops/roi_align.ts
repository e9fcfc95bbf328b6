/**
 * RoIAlign (He et al. 2017, "Mask R-CNN"): a fixed-size feature crop per region of interest, by bilinear sampling
 * on a regular grid inside each output bin, differentiable with respect to the features.
 *
 * Reference: torchvision `ops/roi_align.py` (`roi_align`), whose CPU kernel `src/kernels/roi_align.ts` ports.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RoIAlignAttrs, registerRoIAlignKernels } from '../kernels/roi_align';

/** Options of `roiAlign`; the meaning of each is torchvision `roi_align`'s argument of the same name. */
export interface RoIAlignOptions {
  /** Output size [PH, PW] in bins (torchvision `output_size`). */
  outputSize: [number, number];
  /** Feature-map pixels per box unit: 1 / stride for boxes in input pixels (`spatial_scale`). Default 1. */
  spatialScale?: number;
  /**
   * Sampling points per bin and axis (`sampling_ratio`); 0 or less is adaptive: `ceil(roiSize / outputSize)`
   * per RoI. Faster R-CNN: 2. Default -1.
   */
  samplingRatio?: number;
  /**
   * `aligned=True` shifts box coordinates by -0.5 pixel so that samples fall on pixel centres (Detectron2's
   * ROIAlignV2); `false` (torchvision's default, and Faster R-CNN's `MultiScaleRoIAlign`) keeps the original
   * Mask R-CNN convention, which also enforces a minimum RoI size of 1. Default false.
   */
  aligned?: boolean;
}

/**
 * Backends whose tensors the RoIAlign kernels can read and write synchronously as typed arrays: `cpu`, `wasm`
 * (views of its heap) and `tensorflow` (tfjs-node). WebGPU keeps tensors in GPU buffers that Node reads only
 * asynchronously (its `readSync` needs a browser's `OffscreenCanvas`), and WebGL is not a Node backend.
 */
export const ROI_ALIGN_BACKENDS: readonly string[] = ['cpu', 'wasm', 'tensorflow'];

/**
 * Throw one clear error when the RoIAlign kernels cannot run on `backendName`; models call it at their entry
 * points, before any other work.
 * @param who the caller named in the message (e.g. `FasterRCNN.predict`).
 * @throws Error naming the backend, the backends that work and the CLI option that selects one.
 */
export function checkRoIAlignBackend(backendName: string, who: string): void {
  if (ROI_ALIGN_BACKENDS.includes(backendName)) return;
  throw new Error(
    `${who}: RoIAlign has no kernel for the '${backendName}' backend (it reads features as typed arrays ` +
      `synchronously, which ${ROI_ALIGN_BACKENDS.join(', ')} allow and '${backendName}' does not); ` +
      'run models with RoIAlign (Faster R-CNN) on --backend wasm or cpu',
  );
}

/**
 * RoIAlign of boxes on NHWC features.
 *
 * @param features [N, H, W, C] float32, NHWC; not disposed.
 * @param boxes [R, 4] float32 xyxy, in the units that `spatialScale` maps to feature pixels (input pixels with
 *   `spatialScale = 1 / stride`); not disposed. Receives a zero gradient.
 * @param boxIndices [R] int32, the image 0..N-1 of each box (torchvision's first column of `rois` [K, 5]); not
 *   disposed.
 * @returns [R, PH, PW, C] float32; caller owns it. Differentiable with respect to `features` on every backend that
 *   exposes tensors as typed arrays (`ROI_ALIGN_BACKENDS`). The first call on a backend registers the kernels
 *   `RoIAlign` and `RoIAlignGrad` for it (new kernel names: no existing behaviour changes).
 * @throws Error when the backend is not one of `ROI_ALIGN_BACKENDS` (see `checkRoIAlignBackend`), when the shapes
 *   or dtypes do not fit, on a non-positive output size, or (from the kernel) when a box index is outside 0..N-1
 *   or a coordinate is not finite.
 * Reference: torchvision `ops/roi_align.py`, `csrc/ops/cpu/roi_align_kernel.cpp` (identical arithmetic; the
 * layout is NHWC here, NCHW there).
 */
export function roiAlign(features: tf.Tensor4D, boxes: tf.Tensor2D, boxIndices: tf.Tensor1D, opts: RoIAlignOptions): tf.Tensor4D {
  checkRoIAlignBackend(tf.getBackend(), 'roiAlign');
  if (features.rank !== 4 || features.dtype !== 'float32') throw new Error(`roiAlign: features must be float32 NHWC [N, H, W, C], got ${features.dtype} [${features.shape}]`);
  if (boxes.rank !== 2 || boxes.shape[1] !== 4) throw new Error(`roiAlign: boxes must be [R, 4] xyxy, got [${boxes.shape}]`);
  if (boxIndices.rank !== 1 || boxIndices.shape[0] !== boxes.shape[0] || boxIndices.dtype !== 'int32') {
    throw new Error(`roiAlign: boxIndices must be int32 [R] with R = ${boxes.shape[0]} (one image index per box), got ${boxIndices.dtype} [${boxIndices.shape}]`);
  }
  const [ph, pw] = opts.outputSize;
  if (!(Number.isInteger(ph) && Number.isInteger(pw) && ph > 0 && pw > 0)) throw new Error(`roiAlign: outputSize must be two positive integers, got [${opts.outputSize}]`);
  const spatialScale = opts.spatialScale ?? 1;
  if (!(spatialScale > 0)) throw new Error(`roiAlign: spatialScale must be positive, got ${spatialScale}`);
  const [n, h, w, c] = features.shape;
  const attrs: RoIAlignAttrs = {
    pooledHeight: ph,
    pooledWidth: pw,
    spatialScale,
    samplingRatio: Math.trunc(opts.samplingRatio ?? -1),
    aligned: opts.aligned ?? false,
    featureShape: [n, h, w, c],
  };
  if (boxes.shape[0] === 0) return tf.zeros([0, ph, pw, c]);
  registerRoIAlignKernels(tf.getBackend());
  const b = boxes.dtype === 'float32' ? boxes : tf.cast(boxes, 'float32');
  try {
    return tf.engine().runKernel('RoIAlign', { features, boxes: b, boxIndices }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  } finally {
    if (b !== boxes) b.dispose();
  }
}
