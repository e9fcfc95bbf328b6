/**
 * ONNX nodes for the project's modules, emitted by walking the module objects themselves (their options and
 * variables), in inference mode: BatchNorm with running statistics, dropout as the identity.
 *
 * Every value is NCHW, as in torchvision and in `torch.onnx.export`'s graphs: kernels are transposed from our HWIO
 * to ONNX's OIHW, Linear weights stay `[in, out]` (Gemm with transB = 0). Initializers keep the torchvision
 * state-dict names of the variables they come from (`layer1.0.conv1.weight`), as torch's exporter does.
 *
 * Reference: torchvision `models/resnet.py`, `ops/feature_pyramid_network.py`, `models/detection/retinanet.py`,
 * `models/detection/anchor_utils.py`, `models/segmentation/{fcn,deeplabv3,_utils}.py`; detectron2
 * `modeling/meta_arch/semantic_seg.py` (`SemSegFPNHead`); torch.onnx `symbolic_opset9.group_norm`; ONNX operators
 * (opset 17).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Backbone, BackboneLevel, PyramidLevel } from '../../backbone/features';
import { BasicBlock, Bottleneck, ResNet } from '../../backbone/resnet';
import { BatchNorm2d, Conv2d, FrozenBatchNorm2d, GroupNorm, Linear } from '../../nn/layers';
import { Module } from '../../nn/module';
import { FeaturePyramidNetwork } from '../../../heads/necks/fpn';
import { RetinaNet } from '../../../heads/detection/model';
import { RetinaNetHead } from '../../../heads/detection/retinanet_head';
import { AnchorGenerator } from '../../../heads/detection/anchors';
import { ASPP, DeepLabV3Head } from '../../../heads/segmentation/deeplabv3_head';
import { FCNHead } from '../../../heads/segmentation/fcn_head';
import { SemSegFPNHead } from '../../../heads/segmentation/sem_seg_fpn_head';
import type { SemanticFpn } from '../../../heads/segmentation/semantic_fpn';
import { OnnxGraph } from './graph';

/**
 * Emission context: the graph and the state name of every variable of the exported root module (so that each
 * initializer carries its torchvision name).
 */
export class EmitContext {
  private readonly stateNames = new Map<tf.Variable, string>();
  private readonly emitted = new Map<tf.Variable, string>();

  constructor(
    readonly graph: OnnxGraph,
    root: Module,
  ) {
    for (const e of root.stateEntries()) this.stateNames.set(e.variable, e.name);
  }

  /**
   * The initializer holding `v`'s values, optionally transposed by `perm` (tfjs layout → ONNX layout); added once.
   * @throws Error when `v` is not a variable of the exported module.
   */
  initializer(v: tf.Variable, perm?: readonly [3, 2, 0, 1]): string {
    const hit = this.emitted.get(v);
    if (hit) return hit;
    const name = this.stateNames.get(v);
    if (name === undefined) throw new Error(`ONNX export: a variable of shape [${v.shape}] is not part of the exported module`);
    if (v.dtype !== 'float32') throw new Error(`ONNX export: '${name}' is ${v.dtype}, only float32 variables are exported`);
    const values = v.dataSync() as Float32Array;
    const out = perm
      ? this.graph.addFloat(name, hwioToOihw(values, v.shape), perm.map((p) => v.shape[p] as number))
      : this.graph.addFloat(name, Float32Array.from(values), [...v.shape]);
    this.emitted.set(v, out);
    return out;
  }
}

/**
 * Reorder a convolution kernel from HWIO [kh, kw, I, O] to ONNX's OIHW [O, I, kh, kw] on the host (a plain loop:
 * transposing on the wasm backend and reading back costs seconds per large kernel).
 */
function hwioToOihw(values: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, ci, co] = shape;
  const out = new Float32Array(values.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < ci; i++) {
        const src = ((y * kw + x) * ci + i) * co;
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = values[src + o];
      }
    }
  }
  return out;
}

/** `Conv2d` → ONNX `Conv` (HWIO kernel → OIHW; explicit symmetric pads, strides, dilations, groups). */
export function emitConv(ctx: EmitContext, conv: Conv2d, x: string, name?: string): string {
  const o = conv.options;
  const inputs = [x, ctx.initializer(conv.weight, [3, 2, 0, 1])];
  if (conv.bias) inputs.push(ctx.initializer(conv.bias));
  return ctx.graph.op(
    'Conv',
    inputs,
    {
      kernel_shape: { ints: [o.kernelSize, o.kernelSize] },
      strides: { ints: [o.stride, o.stride] },
      pads: { ints: [o.padding, o.padding, o.padding, o.padding] },
      dilations: { ints: [o.dilation, o.dilation] },
      group: { i: o.groups },
    },
    name,
  );
}

/**
 * Inference-mode BatchNorm2d / FrozenBatchNorm2d → ONNX `BatchNormalization` (running statistics, the layer's
 * epsilon), then the optional residual `Add` and `Relu` our fused `forward(x, ctx, { relu, residual })` applies.
 */
export function emitNorm(ctx: EmitContext, bn: BatchNorm2d | FrozenBatchNorm2d, x: string, act: { relu?: boolean; residual?: string } = {}): string {
  const g = ctx.graph;
  let y = g.op('BatchNormalization', [
    x,
    ctx.initializer(bn.weight),
    ctx.initializer(bn.bias),
    ctx.initializer(bn.runningMean),
    ctx.initializer(bn.runningVar),
  ], { epsilon: { f: bn.eps } });
  if (act.residual) y = g.op('Add', [y, act.residual]);
  if (act.relu) y = g.op('Relu', [y]);
  return y;
}

/** `Linear` → ONNX `Gemm` on [N, in] (weight stays [in, out]: transB = 0). */
export function emitLinear(ctx: EmitContext, fc: Linear, x: string): string {
  const inputs = [x, ctx.initializer(fc.weight)];
  if (fc.bias) inputs.push(ctx.initializer(fc.bias));
  return ctx.graph.op('Gemm', inputs, { transB: { i: 0 } });
}

function emitBlock(ctx: EmitContext, block: BasicBlock | Bottleneck, x: string): string {
  const identity = block.downsample ? emitNorm(ctx, block.downsample.norm, emitConv(ctx, block.downsample.conv, x)) : x;
  let out = emitNorm(ctx, block.bn1, emitConv(ctx, block.conv1, x), { relu: true });
  if (block instanceof Bottleneck) {
    out = emitNorm(ctx, block.bn2, emitConv(ctx, block.conv2, out), { relu: true });
    return emitNorm(ctx, block.bn3, emitConv(ctx, block.conv3, out), { relu: true, residual: identity });
  }
  return emitNorm(ctx, block.bn2, emitConv(ctx, block.conv2, out), { relu: true, residual: identity });
}

/**
 * The ResNet trunk (`ResNet.forward` in inference mode).
 * @param images value name of [N, 3, H, W] float32 normalized RGB.
 * @returns value names of the backbone's `outLevels`, each [N, C, ceil(H/stride), ceil(W/stride)].
 */
export function emitResNet(ctx: EmitContext, net: ResNet, images: string): Partial<Record<BackboneLevel, string>> {
  const g = ctx.graph;
  let x = emitNorm(ctx, net.bn1, emitConv(ctx, net.conv1, images), { relu: true });
  // torchvision MaxPool2d(3, stride 2, padding 1).
  x = g.op('MaxPool', [x], { kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } });
  const out: Partial<Record<BackboneLevel, string>> = {};
  const levels: BackboneLevel[] = ['C2', 'C3', 'C4', 'C5'];
  net.stages.forEach((stage, s) => {
    for (const b of stage.blocks) x = emitBlock(ctx, b as BasicBlock | Bottleneck, x);
    if (net.outLevels.includes(levels[s])) out[levels[s]] = x;
  });
  return out;
}

/** `Shape(x)[start:end]` as an int64 vector. */
function shapeSlice(ctx: EmitContext, x: string, start: number, end: number): string {
  return ctx.graph.op('Shape', [x], { start: { i: start }, end: { i: end } });
}

/**
 * The FPN (`FeaturePyramidNetwork.forward`): lateral 1x1 convolutions, nearest top-down upsampling to each lateral's
 * size (torch `F.interpolate(mode='nearest')`: source index floor(dst * in / out) = ONNX `Resize` with
 * `asymmetric` coordinates and `floor` rounding), 3x3 outputs, then P6/P7 or the max-pool level.
 */
export function emitFpn(ctx: EmitContext, fpn: FeaturePyramidNetwork, features: Partial<Record<BackboneLevel, string>>): Partial<Record<PyramidLevel, string>> {
  const g = ctx.graph;
  const xs = fpn.inLevels.map((l) => {
    const v = features[l];
    if (!v) throw new Error(`ONNX export: the FPN reads ${l}, which the backbone graph does not give`);
    return v;
  });
  const n = xs.length;
  const results: string[] = new Array(n);
  let lastInner = emitConv(ctx, fpn.innerBlocks.items[n - 1].conv, xs[n - 1]);
  results[n - 1] = emitConv(ctx, fpn.layerBlocks.items[n - 1].conv, lastInner);
  for (let i = n - 2; i >= 0; i--) {
    const lateral = emitConv(ctx, fpn.innerBlocks.items[i].conv, xs[i]);
    const sizes = g.op('Concat', [shapeSlice(ctx, lastInner, 0, 2), shapeSlice(ctx, lateral, 2, 4)], { axis: { i: 0 } });
    const topDown = g.op('Resize', [lastInner, '', '', sizes], {
      mode: { s: 'nearest' },
      coordinate_transformation_mode: { s: 'asymmetric' },
      nearest_mode: { s: 'floor' },
    });
    lastInner = g.op('Add', [lateral, topDown]);
    results[i] = emitConv(ctx, fpn.layerBlocks.items[i].conv, lastInner);
  }
  const out: Partial<Record<PyramidLevel, string>> = {};
  results.forEach((r, i) => (out[fpn.outLevels[i]] = r));
  const tb = fpn.topBlock;
  switch (tb.kind) {
    case 'p6p7': {
      const src = tb.source === 'P5' ? results[n - 1] : xs[n - 1];
      const p6 = emitConv(ctx, fpn.extraBlocks!.p6, src);
      out[fpn.outLevels[n]] = p6;
      out[fpn.outLevels[n + 1]] = emitConv(ctx, fpn.extraBlocks!.p7, g.op('Relu', [p6]));
      break;
    }
    case 'maxpool':
      out[fpn.outLevels[n]] = g.op('MaxPool', [results[n - 1]], { kernel_shape: { ints: [1, 1] }, strides: { ints: [2, 2] } });
      break;
    case 'none':
      break;
    default: {
      const never: never = tb;
      throw new Error(`ONNX export: unknown FPN top block ${JSON.stringify(never)}`);
    }
  }
  return out;
}

/**
 * The RetinaNet head on every level (`RetinaNetHead.forward`): towers of four conv + ReLU, then per level
 * [N, A*K, H, W] → Transpose → [N, H, W, A*K] → Reshape [N, H*W*A, K], concatenated over levels (level-major,
 * then y, x, anchor: the order of the anchors).
 * @returns value names of `clsLogits` [N, R, K] and `boxDeltas` [N, R, 4].
 */
export function emitRetinaNetHead(
  ctx: EmitContext,
  head: RetinaNetHead,
  features: Partial<Record<PyramidLevel, string>>,
  levels: readonly PyramidLevel[],
): { clsLogits: string; boxDeltas: string } {
  const g = ctx.graph;
  const branch = (convs: Conv2d[], last: Conv2d, x: string, width: number): string => {
    let y = x;
    for (const c of convs) y = g.op('Relu', [emitConv(ctx, c, y)]);
    const z = g.op('Transpose', [emitConv(ctx, last, y)], { perm: { ints: [0, 2, 3, 1] } }); // [N, H, W, A*width]
    return g.op('Reshape', [z, g.int64s([0, -1, width])]); // [N, H*W*A, width]
  };
  const cls: string[] = [];
  const box: string[] = [];
  for (const l of levels) {
    const x = features[l];
    if (!x) throw new Error(`ONNX export: the RetinaNet head reads ${l}, which the FPN graph does not give`);
    const ch = head.classificationHead;
    const rh = head.regressionHead;
    cls.push(branch(ch.conv.items.map((b) => b.items[0]), ch.clsLogits, x, head.numClasses));
    box.push(branch(rh.conv.items.map((b) => b.items[0]), rh.bboxReg, x, 4));
  }
  const cat = (vs: string[]): string => (vs.length === 1 ? vs[0] : g.op('Concat', vs, { axis: { i: 1 } }));
  return { clsLogits: cat(cls), boxDeltas: cat(box) };
}

/**
 * Anchors inside the graph, torchvision `AnchorGenerator` for the actual input size: per level,
 * `stride = floor(imageSize / gridSize)` per axis, shifts `(x * strideX, y * strideY)`, plus the cell anchors
 * (ratio-major), ordered y, x, cell anchor; levels concatenated.
 * @param images value name of [N, 3, H, W] (the padded batch; only its shape is read).
 * @param features value names of the head's levels, [N, C, Hi, Wi] each, in `levels` order.
 * @returns value name of [R, 4] float32 xyxy anchors in input pixels, equal to `AnchorGenerator.anchorsFor`.
 */
export function emitAnchors(ctx: EmitContext, gen: AnchorGenerator, images: string, features: readonly string[]): string {
  const g = ctx.graph;
  const imgHw = shapeSlice(ctx, images, 2, 4); // [2] int64 (H, W)
  const perLevel = features.map((f, l) => {
    const gridHw = shapeSlice(ctx, f, 2, 4); // [2] (Hi, Wi)
    const stride = g.op('Div', [imgHw, gridHw]); // [2] floor division of positive int64
    const axis = (i: number): { size: string; stride: string } => ({
      size: g.op('Squeeze', [g.op('Slice', [gridHw, g.int64s([i]), g.int64s([i + 1])]), g.int64s([0])]),
      stride: g.op('Slice', [stride, g.int64s([i]), g.int64s([i + 1])]),
    });
    // Range(0, size) * stride, as float32: [size].
    const shifts = (a: { size: string; stride: string }): string =>
      g.op('Cast', [g.op('Mul', [g.op('Range', [scalar(g, 0), a.size, scalar(g, 1)]), a.stride])], { to: { i: 1 } });
    const y = axis(0);
    const x = axis(1);
    const sy = g.op('Unsqueeze', [shifts(y), g.int64s([1])]); // [Hi, 1]
    const sx = g.op('Unsqueeze', [shifts(x), g.int64s([0])]); // [1, Wi]
    const zero = g.op('Mul', [g.op('Add', [sy, sx]), scalarFloat(g, 0)]); // [Hi, Wi] zeros
    const gx = g.op('Unsqueeze', [g.op('Add', [zero, sx]), g.int64s([2])]); // [Hi, Wi, 1]
    const gy = g.op('Unsqueeze', [g.op('Add', [zero, sy]), g.int64s([2])]);
    const grid = g.op('Concat', [gx, gy, gx, gy], { axis: { i: 2 } }); // [Hi, Wi, 4]
    const base = gen.cellAnchors[l];
    const cell = g.addConstant(`cell_anchors_${l}`, base, [1, base.length / 4, 4]); // [1, A, 4]
    const sum = g.op('Add', [g.op('Reshape', [grid, g.int64s([-1, 1, 4])]), cell]); // [Hi*Wi, A, 4]
    return g.op('Reshape', [sum, g.int64s([-1, 4])]); // [Hi*Wi*A, 4]
  });
  return perLevel.length === 1 ? perLevel[0] : g.op('Concat', perLevel, { axis: { i: 0 } });
}

const scalars = new WeakMap<OnnxGraph, Map<string, string>>();
/** An int64 scalar constant (rank 0), for `Range`. */
function scalar(g: OnnxGraph, v: number): string {
  return cachedScalar(g, `i${v}`, () => g.addConstant(`scalar_i64_${v}`, [v], []));
}
/** A float32 scalar constant (rank 0). */
function scalarFloat(g: OnnxGraph, v: number): string {
  return cachedScalar(g, `f${v}`, () => g.addConstant(`scalar_f32_${v}`, Float32Array.of(v), []));
}
function cachedScalar(g: OnnxGraph, key: string, make: () => string): string {
  let m = scalars.get(g);
  if (!m) scalars.set(g, (m = new Map()));
  let v = m.get(key);
  if (!v) m.set(key, (v = make()));
  return v;
}

/**
 * The backbone as the ResNet the emitters know.
 * @throws Error naming the backbone's class when it is not a {@link ResNet}.
 */
export function asResNet(backbone: Backbone): ResNet {
  if (!(backbone instanceof ResNet)) throw new Error(`ONNX export knows the ResNet backbone only, got ${backbone.constructor.name}`);
  return backbone;
}

/** The whole RetinaNet up to raw outputs: backbone, FPN, head and anchors. */
export function emitRetinaNet(ctx: EmitContext, model: RetinaNet, images: string): { clsLogits: string; boxDeltas: string; anchors: string } {
  const feats = emitFpn(ctx, model.backbone.fpn, emitResNet(ctx, asResNet(model.backbone.body), images));
  const head = emitRetinaNetHead(ctx, model.head, feats, model.levels);
  const anchors = emitAnchors(ctx, model.anchorGenerator, images, model.levels.map((l) => feats[l]!));
  return { ...head, anchors };
}

/** torchvision `FCNHead` in inference mode: conv, BN + ReLU, (dropout = identity), 1x1 classifier. */
export function emitFcnHead(ctx: EmitContext, head: FCNHead, x: string): string {
  return emitConv(ctx, head.cls, emitNorm(ctx, head.bn, emitConv(ctx, head.conv, x), { relu: true }));
}

function emitAspp(ctx: EmitContext, aspp: ASPP, x: string): string {
  const g = ctx.graph;
  const outs = aspp.branches.map((b) => emitNorm(ctx, b.bn, emitConv(ctx, b.conv, x), { relu: true }));
  const pooled = emitNorm(ctx, aspp.pooling.bn, emitConv(ctx, aspp.pooling.conv, g.op('GlobalAveragePool', [x])), { relu: true }); // [N, 256, 1, 1]
  // Bilinear upsampling of a 1x1 map repeats its value: Expand to [N, 256, h, w].
  const size = g.op('Concat', [g.int64s([1, 1]), shapeSlice(ctx, x, 2, 4)], { axis: { i: 0 } });
  outs.push(g.op('Expand', [pooled, size]));
  const cat = g.op('Concat', outs, { axis: { i: 1 } }); // [N, 256 * (R + 2), h, w]
  return emitNorm(ctx, aspp.project.bn, emitConv(ctx, aspp.project.conv, cat), { relu: true });
}

/** torchvision `DeepLabHead` in inference mode: ASPP, 3x3 conv, BN + ReLU, 1x1 classifier. */
export function emitDeepLabV3Head(ctx: EmitContext, head: DeepLabV3Head, x: string): string {
  const a = emitAspp(ctx, head.aspp, x);
  return emitConv(ctx, head.cls, emitNorm(ctx, head.bn, emitConv(ctx, head.conv, a), { relu: true }));
}

/**
 * Bilinear resize of [N, K, h, w] logits to the spatial size of `like` (torch `F.interpolate(mode='bilinear',
 * align_corners=False)`: ONNX `Resize` linear with `pytorch_half_pixel` coordinates, as torch.onnx exports it).
 */
export function emitUpsampleLike(ctx: EmitContext, x: string, like: string): string {
  const g = ctx.graph;
  const sizes = g.op('Concat', [shapeSlice(ctx, x, 0, 2), shapeSlice(ctx, like, 2, 4)], { axis: { i: 0 } });
  return g.op('Resize', [x, '', '', sizes], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'pytorch_half_pixel' } });
}

/**
 * GroupNorm → ONNX opset 17 ops (GroupNormalization is opset 18), as torch.onnx exports it below opset 18: Reshape
 * [N, C, H, W] → [N, G, C/G·H·W], `InstanceNormalization` with unit scale and zero bias (per-(n, g) mean and biased
 * variance, the layer's epsilon), Reshape back, then the per-channel affine `x·weight + bias`; optional ReLU.
 * @param x value name of [N, C, H, W] float32.
 * @returns value name of [N, C, H, W] float32.
 */
export function emitGroupNorm(ctx: EmitContext, gn: GroupNorm, x: string, act: { relu?: boolean } = {}): string {
  const g = ctx.graph;
  const groups = gn.numGroups;
  const unit = cachedScalar(g, `gn_ones_${groups}`, () => g.addConstant(`groupnorm_ones_${groups}`, new Float32Array(groups).fill(1), [groups]));
  const zero = cachedScalar(g, `gn_zeros_${groups}`, () => g.addConstant(`groupnorm_zeros_${groups}`, new Float32Array(groups), [groups]));
  const grouped = g.op('Reshape', [x, g.int64s([0, groups, -1])]);
  const normalized = g.op('InstanceNormalization', [grouped, unit, zero], { epsilon: { f: gn.eps } });
  const back = g.op('Reshape', [normalized, g.op('Shape', [x])]);
  const perChannel = g.int64s([-1, 1, 1]);
  const scaled = g.op('Mul', [back, g.op('Reshape', [ctx.initializer(gn.weight), perChannel])]);
  const y = g.op('Add', [scaled, g.op('Reshape', [ctx.initializer(gn.bias), perChannel])]);
  return act.relu ? g.op('Relu', [y]) : y;
}

/**
 * Bilinear upsampling of [N, C, h, w] by an integer factor (torch `nn.Upsample` / `F.interpolate(scale_factor,
 * mode='bilinear', align_corners=False)`: ONNX `Resize` linear with `scales` and `pytorch_half_pixel`
 * coordinates, the sampling of tfjs `resizeBilinear(halfPixelCenters)` at size `factor`·h x `factor`·w).
 */
function emitUpsampleBy(ctx: EmitContext, x: string, factor: number): string {
  const g = ctx.graph;
  const scales = cachedScalar(g, `scales_${factor}`, () => g.addConstant(`scales_x${factor}`, Float32Array.of(1, 1, factor, factor), [4]));
  return g.op('Resize', [x, '', scales], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'pytorch_half_pixel' } });
}

/**
 * Panoptic FPN's semantic head (`SemSegFPNHead.forward`): per level, its blocks of 3x3 conv + GroupNorm + ReLU,
 * each followed by 2x upsampling on levels coarser than `commonStride`; the sum; the 1x1 predictor; upsampling by
 * `commonStride` to the input size.
 * @param features value names of the head's `inLevels`, [N, C, H/stride, W/stride] each.
 * @returns value name of [N, K, H, W] logits.
 */
export function emitSemSegFpnHead(ctx: EmitContext, head: SemSegFPNHead, features: Partial<Record<PyramidLevel, string>>): string {
  const g = ctx.graph;
  let sum: string | undefined;
  head.inLevels.forEach((l, i) => {
    let y = features[l];
    if (!y) throw new Error(`ONNX export: the semantic head reads ${l}, which the FPN graph does not give`);
    const tower = head.scaleHeads[i];
    for (const b of tower.blocks) {
      y = emitGroupNorm(ctx, b.norm, emitConv(ctx, b.conv, y), { relu: true });
      if (tower.upsample) y = emitUpsampleBy(ctx, y, 2);
    }
    sum = sum ? g.op('Add', [sum, y]) : y;
  });
  return emitUpsampleBy(ctx, emitConv(ctx, head.predictor, sum!), head.commonStride);
}

/** Semantic FPN (`SemanticFpn.forward`): ResNet trunk, FPN on C2..C5, the semantic head; logits at the input size. */
export function emitSemanticFpn(ctx: EmitContext, model: SemanticFpn, images: string): string {
  const feats = emitFpn(ctx, model.backbone.fpn, emitResNet(ctx, asResNet(model.backbone.body), images));
  return emitSemSegFpnHead(ctx, model.semSegHead, feats);
}
