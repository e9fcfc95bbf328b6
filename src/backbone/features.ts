/**
 * Feature levels and their specifications, shared by backbones, necks and heads.
 *
 * `C2..C5` are the outputs of ResNet `layer1..layer4`; `P2..P7` the pyramid levels of an FPN (Lin et al. 2017,
 * "Feature Pyramid Networks for Object Detection"). Without dilation level `l` has stride `2^l`; with dilation the
 * stride is the one in the spec, never parsed from the name.
 */
import * as tf from '@tensorflow/tfjs';

export type BackboneLevel = 'C2' | 'C3' | 'C4' | 'C5';
export type PyramidLevel = 'P2' | 'P3' | 'P4' | 'P5' | 'P6' | 'P7';
export const BACKBONE_LEVELS: readonly BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];

/** What a feature map holds, known before any forward pass. */
export interface FeatureSpec {
  /** Channels C of the map. */
  channels: number;
  /** Input pixels per feature-map pixel (a power of two). */
  stride: number;
}

/** Named feature maps, each [N, ceil(H/stride), ceil(W/stride), channels] float32 NHWC. */
export type FeatureMap<L extends string> = Record<L, tf.Tensor4D>;
