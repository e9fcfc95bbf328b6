/**
 * Feature levels and their specifications, shared by backbones, necks and heads.
 *
 * `C2..C5` are the outputs of ResNet `layer1..layer4`; `P2..P7` the pyramid levels of an FPN (Lin et al. 2017,
 * "Feature Pyramid Networks for Object Detection"). Without dilation level `l` has stride `2^l`; with dilation the
 * stride is the one in the spec, never parsed from the name.
 */
import * as tf from '@tensorflow/tfjs-core';
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

/**
 * The specs of the levels a module gives, by level. Which levels a module gives is decided at construction (a
 * backbone's `outLevels`, an FPN's `inLevels`), so the record holds those keys only: read a level with `specOf`,
 * which throws naming the levels given, rather than asserting it is there.
 */
export type FeatureSpecs<L extends string> = Readonly<Partial<Record<L, FeatureSpec>>>;

/**
 * The spec of `level` in `specs`.
 * @param who the module asking, for the message.
 * @throws Error `<who>: no level <level>; the specs give <levels>` when `specs` lacks it.
 */
export function specOf<L extends string>(specs: FeatureSpecs<L>, level: L, who: string): FeatureSpec {
  const s = specs[level];
  if (s === undefined) throw new Error(`${who}: no level ${level}; the specs give ${Object.keys(specs).join(', ')}`);
  return s;
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
  featureSpecs(): FeatureSpecs<BackboneLevel>;
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
  featureSpecs(): FeatureSpecs<Out>;
  /** @returns each level of `outLevels`, float32 NHWC; caller owns them. Inputs are not disposed. */
  forward(features: Partial<FeatureMap<In>>, ctx?: ForwardContext): FeatureMap<Out>;
}
