/**
 * `Conv2DBackpropInput` for the wasm backend. tfjs-backend-wasm ships a scalar C loop for it (about 10x slower
 * than its XNNPACK forward convolution on ResNet shapes); this one computes the transposed convolution with
 * XNNPACK forward convolutions, one per output phase when strided (see `convBackpropInput`).
 *
 * Reference: TensorFlow `Conv2DBackpropInput` (tensorflow/core/kernels/conv_grad_input_ops.cc).
 */
import * as tf from '@tensorflow/tfjs-core';
import { convBackpropInput } from '../ops/conv';
import { ConvKernelAttrs, geometryFromAttrs } from './conv_kernel_util';

/**
 * Inputs `dy` [N, Ho, Wo, Cout] and `filter` [kh, kw, Cin, Cout] float32; attrs as tfjs'
 * `Conv2DBackpropInputAttrs` (`inputShape` [N, H, W, Cin], strides, pad, dimRoundingMode).
 * Returns dx [N, H, W, Cin] float32.
 */
export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const dy = inputs.dy as tf.Tensor4D;
    const filter = inputs.filter as tf.Tensor4D;
    const a = attrs as unknown as ConvKernelAttrs & { inputShape: [number, number, number, number] };
    const g = geometryFromAttrs('Conv2DBackpropInput', a.inputShape, filter.shape, { ...a, dilations: 1 }, false);
    return convBackpropInput(dy, filter, a.inputShape, g, false);
  },
};
