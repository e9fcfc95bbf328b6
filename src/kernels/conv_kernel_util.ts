/** Shared helpers of the wasm convolution-gradient kernels: tfjs kernel attributes to a {@link ConvGeometry}. */
import * as tf from '@tensorflow/tfjs-core';
import { ConvGeometry } from '../ops/conv';

/** The attributes tfjs passes to its convolution and convolution-gradient kernels. */
export interface ConvKernelAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Resolve tfjs kernel attributes to explicit geometry, with tfjs' own padding rules (`computeConv2DInfo`).
 *
 * @param kernelName used in the error message.
 * @param xShape [N, H, W, Cin] of the forward input. @param filterShape [kh, kw, Cin, Cout] or [kh, kw, C, M].
 * @throws Error for NCHW data (the wasm backend computes NHWC only).
 */
export function geometryFromAttrs(
  kernelName: string,
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: ConvKernelAttrs,
  depthwise: boolean,
): ConvGeometry {
  if (attrs.dataFormat != null && attrs.dataFormat !== 'NHWC') {
    throw new Error(`${kernelName} on wasm supports dataFormat 'NHWC' only, got '${attrs.dataFormat}'`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape, filterShape, attrs.strides, attrs.dilations ?? 1, attrs.pad, attrs.dimRoundingMode, depthwise, 'channelsLast',
  );
  const p = info.padInfo;
  // tfjs may report a pad larger than needed (SAME with out = ceil(in / s)); the geometry keeps what the forward
  // kernel used, which is exactly what these pads describe.
  return {
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    pads: [p.top, p.bottom, p.left, p.right],
  };
}
