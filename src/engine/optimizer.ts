/**
 * Stochastic gradient descent with momentum, torch.optim.SGD's update rule, on named `tf.Variable`s, plus the
 * per-parameter weight-decay groups of torchvision's classification reference (no decay on norm layers or biases).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/layers';
import { Module } from '../nn/module';
import { NamedGrads } from './grad_clip';

/**
 * How weight decay enters the update.
 * - `coupled` (default, torch.optim.SGD's): the decay is added to the gradient, `g ← g + wd·p`, so it also passes
 *   through the momentum buffer (L2 regularization).
 * - `decoupled` (SGDW, Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"): the gradient step
 *   ignores the decay and the parameter shrinks separately, `p ← p − lr·wd·p`, scaled by the current learning
 *   rate as torch.optim.AdamW does (the paper scales it by the schedule multiplier alone).
 */
export type WeightDecayMode = 'coupled' | 'decoupled';

/** Options of `SgdOptimizer`; each field means what torch.optim.SGD's argument of the same name means. */
export interface SgdOptions {
  /** Learning rate of the first step. The trainer sets `optimizer.lr` from the schedule before every step. */
  lr: number;
  /** Momentum factor μ ≥ 0. Default 0 (plain SGD, no state). */
  momentum?: number;
  /** Dampening τ ∈ [0, 1] of the gradient entering the momentum buffer. Default 0. */
  dampening?: number;
  /** Nesterov momentum (Sutskever et al. 2013, torch's formulation). Requires momentum > 0 and dampening 0. */
  nesterov?: boolean;
  /** Weight decay λ ≥ 0 of the parameters whose group does not set its own. Default 0. */
  weightDecay?: number;
  /** Coupled (torch.optim.SGD, default) or decoupled (SGDW) weight decay. */
  weightDecayMode?: WeightDecayMode;
}

/**
 * A set of named parameters sharing one weight decay and one learning-rate multiplier (torch's param_groups, reduced
 * to what we vary).
 */
export interface ParamGroup {
  /** `[dotted name, variable]` pairs, e.g. from `Module.trainableParameters()`. */
  params: [string, tf.Variable][];
  /** Weight decay of this group; `SgdOptions.weightDecay` when absent. */
  weightDecay?: number;
  /**
   * Multiplier of the optimizer's `lr` for this group, > 0; default 1. The group steps with `lr·lrMult` everywhere
   * torch uses the group's `lr` (the gradient step and the decoupled decay `lr·λ`), so a schedule that scales `lr`
   * scales every group alike: torch's param group `{"lr": base_lr * 10}` under a `LambdaLR`, as torchvision's
   * segmentation reference gives its auxiliary classifier.
   */
  lrMult?: number;
}

/** The suffix of a parameter's momentum buffer in `SgdOptimizer.state()`: `layer1.0.conv1.weight.momentum_buffer`. */
export const MOMENTUM_BUFFER_SUFFIX = '.momentum_buffer';

/**
 * SGD with momentum, exactly torch.optim.SGD's `_single_tensor_sgd` (maximize=False), with `lr` the optimizer's
 * learning rate times the parameter's group `lrMult`:
 *
 * ```
 * d = g + λ·p                      (coupled weight decay only)
 * b = d               on the first step of a parameter, else  b = μ·b + (1 − τ)·d
 * d = d + μ·b  if nesterov,  else  d = b                       (only when μ ≠ 0)
 * p = p − lr·d        (decoupled:  p = p·(1 − lr·λ) − lr·d)
 * ```
 *
 * State: one momentum buffer per parameter (same shape, float32), created on the parameter's first step, exported
 * under `<name>.momentum_buffer`. The optimizer owns its buffers; call `dispose()` when done.
 * Reference: torch/optim/sgd.py; Sutskever et al. 2013, "On the importance of initialization and momentum".
 */
export class SgdOptimizer {
  /** Learning rate of the next `step`; set by the trainer from the schedule. */
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecayMode: WeightDecayMode;
  private readonly params = new Map<string, { variable: tf.Variable; weightDecay: number; lrMult: number }>();
  private readonly buffers = new Map<string, tf.Variable>();
  /** tfjs variable name → dotted parameter name, to accept `tf.variableGrads` output directly. */
  private readonly byVariableName = new Map<string, string>();

  /**
   * @param params named parameters (one group with `opts.weightDecay`) or explicit groups.
   * @throws Error on a negative hyper-parameter, a group `lrMult` that is not a finite number > 0, nesterov without
   *   momentum or with dampening, a parameter listed twice, or a non-float32 parameter.
   */
  constructor(params: [string, tf.Variable][] | ParamGroup[], opts: SgdOptions) {
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecayMode = opts.weightDecayMode ?? 'coupled';
    const wd = opts.weightDecay ?? 0;
    if (!(opts.lr >= 0)) throw new Error(`SgdOptimizer: invalid learning rate ${opts.lr}`);
    if (!(this.momentum >= 0)) throw new Error(`SgdOptimizer: invalid momentum ${this.momentum}`);
    if (!(this.dampening >= 0 && this.dampening <= 1)) throw new Error(`SgdOptimizer: invalid dampening ${this.dampening}`);
    if (!(wd >= 0)) throw new Error(`SgdOptimizer: invalid weightDecay ${wd}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SgdOptimizer: nesterov momentum requires momentum > 0 and dampening 0');
    }
    if (this.weightDecayMode !== 'coupled' && this.weightDecayMode !== 'decoupled') {
      throw new Error(`SgdOptimizer: weightDecayMode must be 'coupled' or 'decoupled', got '${String(this.weightDecayMode)}'`);
    }
    const groups: ParamGroup[] =
      params.length > 0 && Array.isArray(params[0]) ? [{ params: params as [string, tf.Variable][] }] : (params as ParamGroup[]);
    for (const g of groups) {
      const gwd = g.weightDecay ?? wd;
      if (!(gwd >= 0)) throw new Error(`SgdOptimizer: invalid group weightDecay ${gwd}`);
      const lrMult = g.lrMult ?? 1;
      if (!(lrMult > 0 && Number.isFinite(lrMult))) throw new Error(`SgdOptimizer: group lrMult must be a finite number > 0, got ${lrMult}`);
      for (const [name, variable] of g.params) {
        if (this.params.has(name)) throw new Error(`SgdOptimizer: parameter '${name}' appears in more than one group`);
        if (variable.dtype !== 'float32') throw new Error(`SgdOptimizer: parameter '${name}' is ${variable.dtype}, expected float32`);
        this.params.set(name, { variable, weightDecay: gwd, lrMult });
        this.byVariableName.set(variable.name, name);
      }
    }
  }

  /** Names of the optimized parameters, in registration order. */
  parameterNames(): string[] {
    return [...this.params.keys()];
  }

  /** The weight decay applied to parameter `name` (after group resolution). @throws Error for an unknown name. */
  weightDecayOf(name: string): number {
    const p = this.params.get(name);
    if (!p) throw new Error(`SgdOptimizer: unknown parameter '${name}'`);
    return p.weightDecay;
  }

  /** The learning-rate multiplier of parameter `name` (its group's `lrMult`, default 1). @throws Error for an unknown name. */
  lrMultOf(name: string): number {
    const p = this.params.get(name);
    if (!p) throw new Error(`SgdOptimizer: unknown parameter '${name}'`);
    return p.lrMult;
  }

  /**
   * Apply one update with the current `lr` (times each group's `lrMult`).
   *
   * @param grads gradients keyed by dotted parameter name, or by tfjs variable name as `tf.variableGrads` returns
   *   them; each the parameter's shape, float32. Parameters without a
   *   gradient are skipped (torch skips `grad is None`). Not disposed; still owned by the caller.
   * @throws Error when a gradient names an unknown parameter or has the wrong shape.
   */
  step(grads: NamedGrads): void {
    const byName = new Map<string, tf.Tensor>();
    for (const [key, g] of Object.entries(grads)) {
      const name = this.params.has(key) ? key : this.byVariableName.get(key);
      const p = name !== undefined ? this.params.get(name) : undefined;
      if (!p || name === undefined) throw new Error(`SgdOptimizer.step: gradient for unknown parameter '${key}'`);
      if (!tf.util.arraysEqual(g.shape, p.variable.shape)) {
        throw new Error(`SgdOptimizer.step: gradient of '${name}' has shape [${g.shape}], parameter has [${p.variable.shape}]`);
      }
      byName.set(name, g);
    }
    const mu = this.momentum;
    for (const [name, { variable: p, weightDecay: wd, lrMult }] of this.params) {
      const g = byName.get(name);
      if (g === undefined) continue;
      // torch computes the group lr once (base·mult, in float64) and uses it for the whole update.
      const lr = lrMult === 1 ? this.lr : this.lr * lrMult;
      tf.tidy(() => {
        let d: tf.Tensor = g;
        if (wd !== 0 && this.weightDecayMode === 'coupled') d = tf.add(d, tf.mul(p, wd));
        if (mu !== 0) {
          const prev = this.buffers.get(name);
          if (prev === undefined) {
            this.buffers.set(name, tf.variable(d, false, undefined, 'float32'));
          } else {
            prev.assign(tf.add(tf.mul(prev, mu), this.dampening === 0 ? d : tf.mul(d, 1 - this.dampening)));
          }
          const buf = this.buffers.get(name)!;
          d = this.nesterov ? tf.add(d, tf.mul(buf, mu)) : buf;
        }
        const base = wd !== 0 && this.weightDecayMode === 'decoupled' ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(base, tf.mul(d, lr)));
      });
    }
  }

  /**
   * The optimizer state as named tensors for a checkpoint: `<param name>.momentum_buffer` → [param shape] float32.
   * @returns tensors owned by the optimizer (do not dispose; they change at the next `step`).
   */
  state(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, buf] of this.buffers) out[name + MOMENTUM_BUFFER_SUFFIX] = buf;
    return out;
  }

  /**
   * Replace the state with a copy of `state` (as returned by `state()`). Parameters without a buffer in `state`
   * start afresh, as after construction (a checkpoint written before their first step has none).
   *
   * @param state named tensors; copied, still owned by the caller.
   * @throws Error naming the key when a key is not `<known parameter>.momentum_buffer` or a shape differs.
   */
  loadState(state: Record<string, tf.Tensor>): void {
    for (const [key, t] of Object.entries(state)) {
      const name = key.endsWith(MOMENTUM_BUFFER_SUFFIX) ? key.slice(0, -MOMENTUM_BUFFER_SUFFIX.length) : undefined;
      const p = name !== undefined ? this.params.get(name) : undefined;
      if (!p) throw new Error(`SgdOptimizer.loadState: unexpected state entry '${key}' (expected '<parameter>${MOMENTUM_BUFFER_SUFFIX}')`);
      if (!tf.util.arraysEqual(t.shape, p.variable.shape)) {
        throw new Error(`SgdOptimizer.loadState: '${key}' has shape [${t.shape}], parameter has [${p.variable.shape}]`);
      }
      if (this.momentum === 0) throw new Error(`SgdOptimizer.loadState: '${key}' given but this optimizer has momentum 0`);
    }
    this.disposeBuffers();
    for (const [key, t] of Object.entries(state)) {
      const name = key.slice(0, -MOMENTUM_BUFFER_SUFFIX.length);
      this.buffers.set(name, tf.tidy(() => tf.variable(tf.cast(t, 'float32'), false)));
    }
  }

  private disposeBuffers(): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
  }

  /** Release the momentum buffers (the parameters belong to the model). */
  dispose(): void {
    this.disposeBuffers();
  }
}

/** Options of `weightDecayGroups`, torchvision reference `train.py`'s arguments of the same meaning. */
export interface WeightDecayGroupOptions {
  /** Weight decay of every other parameter (`--wd`). */
  weightDecay: number;
  /** Weight decay of normalization-layer parameters (`--norm-weight-decay`); absent: `weightDecay`. */
  normWeightDecay?: number;
  /** Weight decay of every parameter named `bias` (`--bias-weight-decay`); absent: as the other rules say. */
  biasWeightDecay?: number;
}

/** Module classes whose parameters count as normalization parameters for `normWeightDecay`. */
export const NORM_MODULE_TYPES: readonly (abstract new (...args: never[]) => Module)[] = [BatchNorm2d];

/**
 * Split a model's trainable parameters into weight-decay groups, as torchvision's `set_weight_decay`: a parameter
 * named `bias` goes to the bias group when `biasWeightDecay` is set (this rule comes first, as there); otherwise a
 * parameter of a normalization module (by type: `NORM_MODULE_TYPES`, which also catches torchvision's
 * `downsample.1`) goes to the norm group when `normWeightDecay` is set; everything else to the default group.
 * Empty groups are dropped.
 *
 * @param model the model; its `trainableParameters()` are grouped (frozen modules are left out).
 * @returns groups for `new SgdOptimizer(groups, ...)`, parameters in the model's registration order within each group.
 * Reference: torchvision references/classification/utils.py `set_weight_decay`.
 */
export function weightDecayGroups(model: Module, opts: WeightDecayGroupOptions): ParamGroup[] {
  // Identify norm parameters by variable identity, whatever prefix (or flattening) their names get.
  const normVariables = new Set<tf.Variable>();
  const visit = (m: Module): void => {
    if (NORM_MODULE_TYPES.some((T) => m instanceof T)) for (const [, v] of m.trainableParameters()) normVariables.add(v);
    for (const [, c] of m.namedChildren()) visit(c);
  };
  visit(model);
  const other: ParamGroup = { params: [], weightDecay: opts.weightDecay };
  const norm: ParamGroup = { params: [], weightDecay: opts.normWeightDecay };
  const bias: ParamGroup = { params: [], weightDecay: opts.biasWeightDecay };
  for (const entry of model.trainableParameters()) {
    const [name, variable] = entry;
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    if (opts.biasWeightDecay !== undefined && leaf === 'bias') bias.params.push(entry);
    else if (opts.normWeightDecay !== undefined && normVariables.has(variable)) norm.params.push(entry);
    else other.params.push(entry);
  }
  return [other, norm, bias].filter((g) => g.params.length > 0);
}

/**
 * Give the parameters whose name `select` accepts the learning-rate multiplier `lrMult`: each group is split into
 * the parameters left as they were and the selected ones (same weight decay, `lrMult` set), empty parts dropped, so
 * weight-decay groups and learning-rate groups combine.
 *
 * @param groups e.g. from `weightDecayGroups`; not modified.
 * @param select e.g. `(n) => n.startsWith('aux_classifier.')`.
 * @returns new groups, parameters in their original order within each part.
 * @throws Error when `lrMult` is not a finite number > 0.
 * Reference: torchvision `references/segmentation/train.py` (`params_to_optimize`: the `aux_classifier` group has
 * `"lr": args.lr * 10`).
 */
export function withLrMult(groups: readonly ParamGroup[], select: (name: string) => boolean, lrMult: number): ParamGroup[] {
  if (!(lrMult > 0 && Number.isFinite(lrMult))) throw new Error(`withLrMult: lrMult must be a finite number > 0, got ${lrMult}`);
  const out: ParamGroup[] = [];
  for (const g of groups) {
    const kept = g.params.filter(([n]) => !select(n));
    const picked = g.params.filter(([n]) => select(n));
    if (kept.length > 0) out.push({ ...g, params: kept });
    if (picked.length > 0) out.push({ ...g, params: picked, lrMult: (g.lrMult ?? 1) * lrMult });
  }
  return out;
}
