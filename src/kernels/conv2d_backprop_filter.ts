/**
 * `Conv2DBackpropFilter` for the wasm backend, which does not ship one: the filter gradient of a dense NHWC
 * convolution, computed by XNNPACK forward convolution / matmul kernels (see `convBackpropFilter`).
 *
 * Reference: TensorFlow `Conv2DBackpropFilter` (tensorflow/core/kernels/conv_grad_filter_ops.cc).
 */
import * as tf from '@tensorflow/tfjs-core';
import { convBackpropFilter } from '../ops/conv';
import { ConvKernelAttrs, geometryFromAttrs } from './conv_kernel_util';

/**
 * Inputs `x` [N, H, W, Cin] and `dy` [N, Ho, Wo, Cout] float32; attrs as tfjs' `Conv2DBackpropFilterAttrs`
 * (`filterShape` [kh, kw, Cin, Cout], strides, pad, dimRoundingMode; dilation is always 1 for this kernel).
 * Returns dW [kh, kw, Cin, Cout] float32.
 */
export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = inputs.x as tf.Tensor4D;
    const dy = inputs.dy as tf.Tensor4D;
    const a = attrs as unknown as ConvKernelAttrs & { filterShape: [number, number, number, number] };
    const g = geometryFromAttrs('Conv2DBackpropFilter', x.shape, a.filterShape, { ...a, dilations: 1 }, false);
    return convBackpropFilter(x, dy, a.filterShape, g);
  },
};
