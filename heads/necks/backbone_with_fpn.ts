/**
 * torchvision's `BackboneWithFPN`: a ResNet `body` and an FPN on some of its levels, state names `body.*` and
 * `fpn.*` (mounted as `backbone.` in torchvision's detectors), shared by RetinaNet, Faster R-CNN and Panoptic FPN's
 * semantic head.
 *
 * Reference: torchvision `models/detection/backbone_utils.py` (`BackboneWithFPN`, `_resnet_fpn_extractor`).
 */
import * as tf from '@tensorflow/tfjs';
import { Backbone, FeatureMap, type FeatureSpecs, PyramidLevel } from '../../src/backbone/features';
import { ForwardContext, Module } from '../../src/nn/module';
import { FeaturePyramidNetwork } from './fpn';

/** torchvision `BackboneWithFPN`: `body` (the ResNet) and `fpn`. */
export class BackboneWithFpn extends Module {
  readonly body: Backbone;
  readonly fpn: FeaturePyramidNetwork;
  constructor(body: Backbone, fpn: FeaturePyramidNetwork) {
    super();
    this.body = this.registerModule('body', body);
    this.fpn = this.registerModule('fpn', fpn);
  }

  /** The FPN's output specs. */
  featureSpecs(): FeatureSpecs<PyramidLevel> {
    return this.fpn.featureSpecs();
  }

  /**
   * @param images [N, H, W, 3] float32 normalized RGB; not disposed.
   * @returns the FPN levels, each [N, ceil(H/stride), ceil(W/stride), fpnChannels]; caller owns them.
   */
  forward(images: tf.Tensor4D, ctx: ForwardContext): FeatureMap<PyramidLevel> {
    return tf.tidy(() => this.fpn.forward(this.body.forward(images, ctx), ctx));
  }
}

