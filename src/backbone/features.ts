/**
 * Feature levels and their specifications, shared by backbones, necks and heads.
 *
 * `C2..C5` are the outputs of ResNet `layer1..layer4`; `P2..P7` the pyramid levels of an FPN (Lin et al. 2017,
 * "Feature Pyramid Networks for Object Detection"). Without dilation level `l` has stride `2^l`; with dilation the
 * stride is the one in the spec, never parsed from the name.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardContext, Module } from '../nn/module';

export type BackboneLevel = 'C2' | 'C3' | 'C4' | 'C5';
export type PyramidLevel = 'P2' | 'P3' | 'P4' | 'P5' | 'P6' | 'P7';
export const BACKBONE_LEVELS: readonly BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];
/** Pyramid levels in ascending order (stride 4 to 128 without dilation). */
export const PYRAMID_LEVELS: readonly PyramidLevel[] = ['P2', 'P3', 'P4', 'P5', 'P6', 'P7'];

/** The pyramid level an FPN builds on a backbone level, same index: `C3` → `P3` (FPN paper, detectron2 `res3` → `p3`). */
export function pyramidLevelOf(level: BackboneLevel): PyramidLevel {
  return PYRAMID_LEVELS[BACKBONE_LEVELS.indexOf(level) /* C2 is index 0 */];
}

/** What a feature map holds, known before any forward pass. */
export interface FeatureSpec {
  /** Channels C of the map. */
  channels: number;
  /** Input pixels per feature-map pixel (a power of two). */
  stride: number;
}

/** Named feature maps, each [N, ceil(H/stride), ceil(W/stride), channels] float32 NHWC. */
export type FeatureMap<L extends string> = Record<L, tf.Tensor4D>;

/**
 * What heads and necks need of a backbone: the levels it returns, their specs before any forward pass, and the
 * forward pass. Heads take this interface, never a concrete trunk class.
 */
export interface Backbone extends Module {
  /** Levels `forward` returns, ascending. */
  readonly outLevels: readonly BackboneLevel[];
  /** Channels and stride of every level the backbone can give (at least `outLevels`). */
  featureSpecs(): Record<BackboneLevel, FeatureSpec>;
  /**
   * @param images [N, H, W, 3] float32, normalized RGB, NHWC. Not disposed.
   * @returns each level of `outLevels`, [N, ceil(H/stride), ceil(W/stride), channels] float32; caller owns them.
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext): FeatureMap<BackboneLevel>;
}

/**
 * What a head needs of a neck (an FPN): the backbone levels it reads and the levels it returns, with their specs
 * before any forward pass.
 */
export interface Neck<In extends string, Out extends string> extends Module {
  readonly inLevels: readonly In[];
  /** Levels `forward` returns, ascending. */
  readonly outLevels: readonly Out[];
  /** Channels and stride of every output level (entries for `outLevels` only). */
  featureSpecs(): Partial<Record<Out, FeatureSpec>>;
  /** @returns each level of `outLevels`, float32 NHWC; caller owns them. Inputs are not disposed. */
  forward(features: Partial<FeatureMap<In>>, ctx?: ForwardContext): FeatureMap<Out>;
}
