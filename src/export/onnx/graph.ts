/**
 * An ONNX graph under construction, serialized with the ONNX schema's protobuf definitions (`onnx-proto`, the
 * `onnx.proto` of ONNX 1.10 compiled for protobufjs): nodes in topological order, float32 and int64
 * initializers, typed graph inputs and outputs with symbolic dimensions.
 *
 * Reference: ONNX IR specification (`docs/IR.md`), operator set 17 (`docs/Operators.md`).
 */
import { onnx } from 'onnx-proto';

/** Opset of the default ONNX domain every exported model imports. */
export const ONNX_OPSET = 17;
/** IR version matching opset 17 (ONNX 1.12). */
export const ONNX_IR_VERSION = 8;

/** A node attribute value: an integer, a float, a string, or a list of integers or floats. */
export type AttributeValue = { i: number } | { f: number } | { s: string } | { ints: readonly number[] } | { floats: readonly number[] };

/** One dimension of a graph input or output: a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

/** A graph input or output: name, element type and shape. */
export interface ValueInfo {
  name: string;
  elemType: 'float32' | 'int64';
  shape: readonly Dim[];
  /** Documentation written into the model (layout, units, ordering). */
  doc?: string;
}

function attribute(name: string, v: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in v) return { name, type: T.INT, i: v.i };
  if ('f' in v) return { name, type: T.FLOAT, f: v.f };
  if ('s' in v) return { name, type: T.STRING, s: new TextEncoder().encode(v.s) };
  if ('ints' in v) return { name, type: T.INTS, ints: [...v.ints] };
  return { name, type: T.FLOATS, floats: [...v.floats] };
}

function valueInfo(v: ValueInfo): onnx.IValueInfoProto {
  const elemType = v.elemType === 'float32' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.INT64;
  return {
    name: v.name,
    docString: v.doc,
    type: {
      tensorType: {
        elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Little-endian bytes of a typed array (ONNX `raw_data` is little-endian on every platform). */
function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const out = new Uint8Array(values.length * values.BYTES_PER_ELEMENT);
  const view = new DataView(out.buffer);
  if (values instanceof Float32Array) values.forEach((x, i) => view.setFloat32(4 * i, x, true));
  else values.forEach((x, i) => view.setBigInt64(8 * i, x, true));
  return out;
}

/**
 * Builder of one ONNX graph. Value names are unique: `fresh(prefix)` hands out new ones; initializers keep the
 * names they are given (the exporters use torchvision's state-dict names, as `torch.onnx.export` does).
 */
export class OnnxGraph {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private counter = 0;

  /** A new value name starting with `prefix`. */
  fresh(prefix: string): string {
    let name = prefix;
    while (this.names.has(name)) name = `${prefix}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  /**
   * Add a float32 initializer.
   * @param values row-major in the layout ONNX expects (e.g. OIHW for a Conv weight).
   * @throws Error when the name is taken or the size does not match `dims`.
   */
  addFloat(name: string, values: Float32Array, dims: readonly number[]): string {
    return this.addInitializer(name, values, dims, onnx.TensorProto.DataType.FLOAT);
  }

  /** Add an int64 initializer (shapes, axes, indices). */
  addInt64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.addInitializer(name, BigInt64Array.from(values.map((v) => BigInt(v))), dims, onnx.TensorProto.DataType.INT64);
  }

  /** Add a float32 or int64 initializer under a new name starting with `prefix` (constants of the graph). */
  addConstant(prefix: string, values: Float32Array | readonly number[], dims: readonly number[]): string {
    const name = this.fresh(prefix);
    this.names.delete(name);
    return values instanceof Float32Array ? this.addFloat(name, values, dims) : this.addInt64(name, values, dims);
  }

  private addInitializer(name: string, values: Float32Array | BigInt64Array, dims: readonly number[], dataType: number): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: value '${name}' is already defined`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== values.length) throw new Error(`ONNX graph: initializer '${name}' has ${values.length} values, dims [${dims}] need ${n}`);
    this.names.add(name);
    this.initializers.push({ name, dims: [...dims], dataType, rawData: littleEndianBytes(values) });
    return name;
  }

  /** An int64 constant vector, shared between the nodes that use the same values. */
  int64s(values: readonly number[]): string {
    const key = values.join(',');
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.addConstant(`const_i64_${values.map((v) => (v < 0 ? `m${-v}` : String(v))).join('_')}`, values, [values.length]);
    this.constants.set(key, name);
    return name;
  }

  /**
   * Append a node and return the names of its outputs.
   * @param inputs value names; `''` for an omitted optional input (ONNX convention).
   * @param opts.outputs number of outputs (default 1); `name` prefixes the output names.
   */
  node(opType: string, inputs: readonly string[], attrs: Record<string, AttributeValue> = {}, opts: { name?: string; outputs?: number } = {}): string[] {
    const base = opts.name ?? opType.toLowerCase();
    const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.fresh(i === 0 ? base : `${base}_${i}`));
    this.nodes.push({
      opType,
      name: outputs[0],
      input: [...inputs],
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** `node` for a single-output op. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttributeValue> = {}, name?: string): string {
    return this.node(opType, inputs, attrs, { name })[0];
  }

  /** Append an `Identity` that gives `value` the graph-output name `name`. */
  rename(value: string, name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: value '${name}' is already defined`);
    this.names.add(name);
    this.nodes.push({ opType: 'Identity', name, input: [value], output: [name], attribute: [] });
    return name;
  }

  /** Declare a graph-input name before nodes use it. */
  declareInput(name: string): string {
    if (this.names.has(name)) throw new Error(`ONNX graph: value '${name}' is already defined`);
    this.names.add(name);
    return name;
  }

  /** Number of nodes so far. */
  get numNodes(): number {
    return this.nodes.length;
  }

  /**
   * Serialize as an ONNX model (IR 8, opset 17).
   * @param opts.metadata string pairs stored in `metadata_props` (e.g. class names as JSON).
   * @returns the protobuf bytes of the `ModelProto`.
   */
  toModel(opts: {
    graphName: string;
    inputs: readonly ValueInfo[];
    outputs: readonly ValueInfo[];
    producerVersion: string;
    doc?: string;
    metadata?: Record<string, string>;
  }): Uint8Array {
    const model: onnx.IModelProto = {
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'resvision',
      producerVersion: opts.producerVersion,
      docString: opts.doc,
      graph: {
        name: opts.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: opts.inputs.map(valueInfo),
        output: opts.outputs.map(valueInfo),
      },
      metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

/**
 * Decode an ONNX model's bytes (for inspection and tests).
 * @throws Error when the bytes are not a protobuf `ModelProto`.
 */
export function decodeOnnxModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
