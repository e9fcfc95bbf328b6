/**
 * A small module system on tfjs-core, shaped like `torch.nn.Module`.
 *
 * Why not tfjs-layers: its BatchNormalization keeps updating statistics when `trainable=false`, its names and
 * defaults differ from torch's, and dynamic detection heads fit it badly. Here every parameter and buffer is a
 * `tf.Variable` registered under torchvision's dotted state-dict name (`layer1.0.conv1.weight`), so weight import
 * is a name map plus a layout transpose, and BatchNorm statistics are updated explicitly.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Arguments every `forward` receives. */
export interface ForwardContext {
  /** Training mode: BatchNorm uses batch statistics and updates its running statistics; dropout is active. */
  training: boolean;
}

/**
 * How a variable's layout differs from torch's, recorded by the layer that registers it, so that weight import and
 * export transpose by what the layer says rather than by name patterns:
 * - `conv2d`: a convolution kernel, HWIO here, OIHW in torch;
 * - `linear`: a fully connected weight, [in, out] here, [out, in] in torch;
 * - `vector`: the same layout in both (biases, normalization parameters and statistics).
 */
export type TensorLayout = 'conv2d' | 'linear' | 'vector';

/** One named state entry: a trainable parameter or a buffer (running statistics, frozen values). */
export interface StateEntry {
  /** torchvision-style dotted name, e.g. `layer1.0.bn1.running_mean`. */
  name: string;
  variable: tf.Variable;
  /** Parameters are optimized (unless frozen); buffers never are. */
  kind: 'parameter' | 'buffer';
  /** The variable's layout relative to torch's, as its layer registered it. */
  layout: TensorLayout;
}

/**
 * Base class of every network component.
 *
 * Subclasses register parameters, buffers and children in their constructor, in torch's order, and implement
 * their own typed `forward`. Layouts differ from torch where tfjs requires it and the docstring of each layer says
 * so (convolution kernels are HWIO, linear weights [in, out]); the weight importers transpose.
 */
export abstract class Module {
  private readonly children_ = new Map<string, Module>();
  private readonly parameters_ = new Map<string, tf.Variable>();
  private readonly buffers_ = new Map<string, tf.Variable>();
  private readonly layouts_ = new Map<string, TensorLayout>();
  /** Parameters of a frozen module are excluded from `trainableParameters()`. */
  private frozen_ = false;
  private readonly flattened_ = new Set<string>();

  /**
   * Register a child module under `name` (a torch attribute name, or an index for sequential containers).
   * With `flatten`, the child's state names carry no `name.` prefix: torchvision's classification ResNet keeps
   * `conv1`, `layer1`, ..., `fc` at the root, while our backbone and head are separate objects.
   */
  protected registerModule<M extends Module>(name: string, module: M, opts: { flatten?: boolean } = {}): M {
    if (this.children_.has(name)) throw new Error(`module '${name}' is already registered`);
    this.children_.set(name, module);
    if (opts.flatten) this.flattened_.add(name);
    return module;
  }

  private prefixOf(prefix: string, child: string): string {
    return this.flattened_.has(child) ? prefix : `${prefix}${child}.`;
  }

  /**
   * Register a trainable parameter initialized from `value` (the module takes ownership of `value`).
   * @param layout how the variable's layout differs from torch's (default `vector`: the same).
   */
  protected registerParameter(name: string, value: tf.Tensor, layout: TensorLayout = 'vector'): tf.Variable {
    return this.registerVariable(this.parameters_, name, value, layout);
  }

  /**
   * Register a non-trainable buffer initialized from `value` (the module takes ownership of `value`).
   * @param layout how the variable's layout differs from torch's (default `vector`: the same).
   */
  protected registerBuffer(name: string, value: tf.Tensor, layout: TensorLayout = 'vector'): tf.Variable {
    return this.registerVariable(this.buffers_, name, value, layout);
  }

  /** A variable from `value` (disposed), trainable when it goes into the parameters, recorded with its layout. */
  private registerVariable(into: Map<string, tf.Variable>, name: string, value: tf.Tensor, layout: TensorLayout): tf.Variable {
    if (this.parameters_.has(name) || this.buffers_.has(name)) throw new Error(`'${name}' is already registered`);
    const v = tf.variable(value, into === this.parameters_);
    value.dispose();
    into.set(name, v);
    this.layouts_.set(name, layout);
    return v;
  }

  /** Child modules in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children_.entries()];
  }

  /** A descendant by dotted path (`layer1.0.conv1`). @throws Error naming the missing component. */
  getSubmodule(path: string): Module {
    let m: Module = this;
    for (const part of path.split('.').filter((p) => p.length > 0)) {
      let c = m.children_.get(part);
      for (const f of m.flattened_) c = c ?? m.children_.get(f)?.children_.get(part);
      if (!c) throw new Error(`no submodule '${part}' in '${path}'`);
      m = c;
    }
    return m;
  }

  /**
   * Every parameter and buffer with its full dotted name, depth-first in registration order: exactly the keys of
   * the corresponding torchvision `state_dict()` (without `num_batches_tracked`, which we do not keep).
   */
  stateEntries(prefix = ''): StateEntry[] {
    const out: StateEntry[] = [];
    for (const [n, v] of this.parameters_) out.push({ name: prefix + n, variable: v, kind: 'parameter', layout: this.layouts_.get(n)! });
    for (const [n, v] of this.buffers_) out.push({ name: prefix + n, variable: v, kind: 'buffer', layout: this.layouts_.get(n)! });
    for (const [n, c] of this.children_) out.push(...c.stateEntries(this.prefixOf(prefix, n)));
    return out;
  }

  /** Parameters (not buffers) with their dotted names, frozen ones included. */
  namedParameters(): [string, tf.Variable][] {
    return this.stateEntries()
      .filter((e) => e.kind === 'parameter')
      .map((e) => [e.name, e.variable]);
  }

  /** Parameters the optimizer updates: those of modules that are not frozen. */
  trainableParameters(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    if (!this.frozen_) for (const [n, v] of this.parameters_) out.push([prefix + n, v]);
    for (const [n, c] of this.children_) out.push(...c.trainableParameters(this.prefixOf(prefix, n)));
    return out;
  }

  /** Number of scalar parameters (buffers excluded), as `sum(p.numel() for p in m.parameters())` in torch. */
  numParameters(): number {
    return this.namedParameters().reduce((s, [, v]) => s + v.size, 0);
  }

  /**
   * Freeze (or unfreeze) this module and its descendants: their parameters leave `trainableParameters()` and their
   * normalization layers run in inference mode even during training (mmdetection's `frozen_stages` semantics: a
   * frozen stage neither learns nor updates BatchNorm statistics).
   */
  setFrozen(frozen: boolean): this {
    this.frozen_ = frozen;
    for (const c of this.children_.values()) c.setFrozen(frozen);
    return this;
  }

  get frozen(): boolean {
    return this.frozen_;
  }

  /** Release every variable of this module and its descendants. */
  dispose(): void {
    for (const v of this.parameters_.values()) v.dispose();
    for (const v of this.buffers_.values()) v.dispose();
    for (const c of this.children_.values()) c.dispose();
    this.parameters_.clear();
    this.buffers_.clear();
  }
}
