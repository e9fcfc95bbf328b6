/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend, which does not ship one: computed as an XNNPACK
 * depthwise convolution of the input with the output gradient as filter (see `depthwiseBackpropFilter`).
 *
 * Reference: TensorFlow `DepthwiseConv2dNativeBackpropFilter` (tensorflow/core/kernels/depthwise_conv_grad_op.cc).
 */
import * as tf from '@tensorflow/tfjs-core';
import { depthwiseBackpropFilter } from '../ops/conv';
import { ConvKernelAttrs, geometryFromAttrs } from './conv_kernel_util';

/**
 * Inputs `x` [N, H, W, C] and `dy` [N, Ho, Wo, C*M] float32; attrs as tfjs'
 * `DepthwiseConv2dNativeBackpropFilterAttrs` (`filterShape` [kh, kw, C, M], strides, dilations, pad).
 * Returns dW [kh, kw, C, M] float32.
 */
export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = inputs.x as tf.Tensor4D;
    const dy = inputs.dy as tf.Tensor4D;
    const a = attrs as unknown as ConvKernelAttrs & { filterShape: [number, number, number, number] };
    const g = geometryFromAttrs('DepthwiseConv2dNativeBackpropFilter', x.shape, a.filterShape, a, true);
    return depthwiseBackpropFilter(x, dy, a.filterShape, g);
  },
};
