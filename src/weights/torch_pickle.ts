/**
 * A restricted unpickler for the pickles inside `torch.save` archives (`data.pkl`).
 *
 * It interprets pickle protocols 0–5 (the opcodes CPython's pickler emits for dicts, lists, tuples, numbers,
 * strings and bytes) and executes nothing: a `GLOBAL`/`STACK_GLOBAL` outside a small allow list is refused with
 * an error naming it, and the allowed ones are interpreted here, never looked up. The allow list is the part of
 * torch's `weights_only` unpickler that state dicts and training checkpoints need: `collections.OrderedDict`,
 * `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter`,
 * `torch._utils._rebuild_parameter_with_state`, `torch._tensor._rebuild_from_type_v2`, the typed storage classes
 * (`torch.FloatStorage`, ...), `torch.Size`, `torch.device` and `_codecs.encode` (how protocol 2 pickles bytes).
 *
 * Values map to JavaScript as: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number,
 * str → string, bytes → Uint8Array, list and tuple → Array, dict and OrderedDict → Map, set → Set, tensor →
 * `TorchTensorRef` (a description; the data stays in the archive until read).
 *
 * Reference: CPython `Lib/pickle.py` and `Lib/pickletools.py` (opcodes); torch `torch/_weights_only_unpickler.py`
 * (allow list), `torch/serialization.py` (persistent ids `('storage', type, key, location, numel)`),
 * `torch/_utils.py` (`_rebuild_tensor_v2` arguments).
 */
import { previewValue } from '../util/preview';
import { WeightDtype } from './dtypes';

/** A storage record referenced by a persistent id: the archive entry `data/<key>` holds its bytes. */
export interface TorchStorageRef {
  kind: 'storage';
  /** Entry name under `data/` in the archive. */
  key: string;
  dtype: WeightDtype;
  /** Device the storage was saved from (`cpu`, `cuda:0`); the bytes are the same. */
  location: string;
  /** Number of elements of `dtype` in the storage. */
  numel: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view into a storage. */
export interface TorchTensorRef {
  kind: 'tensor';
  storage: TorchStorageRef;
  /** Offset of element [0, ..., 0] in the storage, in elements. */
  storageOffset: number;
  shape: number[];
  /** Element strides per dim. */
  stride: number[];
  requiresGrad: boolean;
}

/** Storage classes of torch's legacy typed storages, by name, with their element type. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, WeightDtype>> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** A global the unpickler accepted; calls to it are interpreted by `callGlobal`. */
class AllowedGlobal {
  constructor(readonly qualifiedName: string) {}
}

/** A storage class (`torch.FloatStorage`), only meaningful inside a persistent id. */
class StorageClass {
  constructor(readonly dtype: WeightDtype, readonly qualifiedName: string) {}
}

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Size',
  'torch.device',
  'torch.Tensor',
  'torch.nn.parameter.Parameter',
  '_codecs.encode',
]);

/** The names `GLOBAL` may load, for error messages. */
export function allowedGlobals(): string[] {
  return [...ALLOWED_GLOBALS, ...Object.keys(TORCH_STORAGE_DTYPES).map((s) => `torch.${s}`)];
}

const MARK = Symbol('mark');

/** Options of `unpickle`. */
export interface UnpickleOptions {
  /** Where the pickle came from, for error messages (e.g. `model.pth:archive/data.pkl`). */
  source: string;
  /** Resolves a persistent id (`BINPERSID`); torch's are `['storage', StorageClass, key, location, numel]`. */
  persistentLoad?: (pid: unknown) => unknown;
}

/**
 * Interpret a pickle without executing anything.
 *
 * @param bytes the pickle stream.
 * @returns the unpickled value (see the module comment for the type mapping).
 * @throws Error naming the source and byte offset for a forbidden global (`forbidden global 'os.system'`), an
 *   unsupported opcode, a truncated stream or a malformed torch record.
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  return unpickleAt(bytes, 0, opts).value;
}

/**
 * Interpret the pickle that starts at byte `start` of `bytes` (legacy `torch.save` files hold several in a row).
 * @returns the value and the byte after its STOP opcode.
 * @throws as {@link unpickle}.
 */
export function unpickleAt(bytes: Uint8Array, start: number, opts: UnpickleOptions): { value: unknown; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;
  let opPos = start;
  const fail = (msg: string): never => {
    throw new Error(`${opts.source}: ${msg} (pickle byte ${opPos})`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail(`truncated pickle: needed ${n} more bytes`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} too large`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('truncated pickle: unterminated text argument');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  /** Python's `int(text, 0)`: sign, surrounding whitespace, 0x/0o/0b prefixes, `_` between digits. */
  const pyInt = (s: string, opcode: string): bigint => {
    const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0(?:_?0)*)$/.exec(s.trim());
    if (!m) return fail(`${opcode} argument ${previewValue(s)} is not an integer`);
    return BigInt(m[2].replace(/_/g, '')) * (m[1] === '-' ? -1n : 1n);
  };
  const toNumber = (v: bigint): number | bigint =>
    v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  /**
   * The INT opcode as CPython's `_pickle.c` reads it: C `strtol(text, 0)` first (leading whitespace, sign, 0x and
   * leading-0 octal), a value of 0 or 1 written in two characters being a bool (protocol 0's `00`/`01`); when
   * strtol cannot take the whole text, `int(text, 0)`.
   */
  const textInt = (s: string): number | bigint | boolean => {
    const m = /^[ \t\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
    if (m) {
      const digits = /^0[0-7]+$/.test(m[2]) ? `0o${m[2].slice(1)}` : m[2];
      const v = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
      if (v >= -(2n ** 63n) && v < 2n ** 63n) return s.length === 2 && (v === 0n || v === 1n) ? v === 1n : toNumber(v);
    }
    return toNumber(pyInt(s, 'INT'));
  };
  /** The FLOAT opcode as `_pickle.c` reads it (`PyOS_string_to_double`: no `_` separators, inf and nan spelled out). */
  const textFloat = (s: string): number => {
    const t = s.trim();
    if (/^[+-]?(inf(inity)?|nan)$/i.test(t)) return t.toLowerCase().includes('nan') ? NaN : t.startsWith('-') ? -Infinity : Infinity;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return fail(`FLOAT argument ${previewValue(s)} is not a number`);
    return Number(t);
  };
  /** A text memo key (PUT/GET): a non-negative decimal integer. */
  const memoKey = (s: string, opcode: string): number => {
    const k = toNumber(pyInt(s, opcode));
    if (typeof k !== 'number' || k < 0) return fail(`${opcode} memo key ${previewValue(s)} is not a non-negative integer`);
    return k;
  };
  const utf8 = (b: Uint8Array): string => new TextDecoder('utf-8').decode(b);
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('MARK expected');
    return stack.splice(m as number);
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const loadGlobal = (module: string, name: string): unknown => {
    const q = `${module}.${name}`;
    if (module === 'torch' && name in TORCH_STORAGE_DTYPES) return new StorageClass(TORCH_STORAGE_DTYPES[name], q);
    if (ALLOWED_GLOBALS.has(q)) return new AllowedGlobal(q);
    return fail(
      `forbidden global '${q}': only ${allowedGlobals().join(', ')} may appear in a weights file (torch's weights_only rule); ` +
        'the file may run code when loaded by pickle',
    );
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail('SETITEM(S) on a value that is not a dict');
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) fail('APPEND(S) on a value that is not a list');
    // A loop, not push(...items): spreading a million items overflows the call stack.
    for (const it of items) (target as unknown[]).push(it);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
    if (fn instanceof AllowedGlobal) return callGlobal(fn.qualifiedName, args as unknown[], fail);
    if (fn instanceof StorageClass) fail(`${fn.qualifiedName} cannot be called outside a persistent id`);
    return fail('REDUCE on a value that is not an allowed global');
  };

  for (;;) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol above 5');
        break;
      case 0x95: // FRAME: a length prefix only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(longFromBytes(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(longFromBytes(take(n)));
        break;
      }
      case 0x49: {
        // INT (text): also encodes booleans as 00/01
        stack.push(textInt(line()));
        break;
      }
      case 0x4c: {
        // LONG (text, trailing 'L')
        stack.push(toNumber(pyInt(line().replace(/L$/, ''), 'LONG')));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: // FLOAT (text)
        stack.push(textFloat(line()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING (py2 str): decoded as latin-1 text, as torch's loader does (encoding='latin1')
        stack.push(new TextDecoder('latin1').decode(take(u8())));
        break;
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(new TextDecoder('latin1').decode(take(n)));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS on a value that is not a set');
        for (const it of items) (s as Set<unknown>).add(it);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x70: // PUT (text)
        memo.set(memoKey(line(), 'PUT'), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET (text)
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const k = op === 0x67 ? memoKey(line(), 'GET') : op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(loadGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL operands are not strings');
        stack.push(loadGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args); only OrderedDict is constructible this way
        const args = pop();
        const cls = pop();
        if (!(cls instanceof AllowedGlobal) || cls.qualifiedName !== 'collections.OrderedDict') {
          fail('NEWOBJ of a class other than collections.OrderedDict');
        }
        stack.push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        if (!(cls instanceof AllowedGlobal) || cls.qualifiedName !== 'collections.OrderedDict') {
          fail('NEWOBJ_EX of a class other than collections.OrderedDict');
        }
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD: sets attributes (state dicts carry `_metadata` with module versions); the state is not needed
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map) && !(typeof obj === 'object' && obj !== null && (obj as { kind?: string }).kind === 'tensor')) {
          fail('BUILD on a value that is not a dict or tensor');
        }
        void state;
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent id without a persistent loader');
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: // PERSID (text)
        if (!opts.persistentLoad) fail('persistent id without a persistent loader');
        stack.push(opts.persistentLoad!(line()));
        break;
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Interpret a call of an allowed global. */
function callGlobal(name: string, args: unknown[], fail: (msg: string) => never): unknown {
  switch (name) {
    case 'collections.OrderedDict': {
      const d = new Map<unknown, unknown>();
      if (args.length === 1 && Array.isArray(args[0])) {
        for (const kv of args[0] as unknown[]) {
          if (!Array.isArray(kv) || kv.length !== 2) fail('OrderedDict item is not a pair');
          d.set((kv as unknown[])[0], (kv as unknown[])[1]);
        }
      } else if (args.length !== 0) fail('OrderedDict called with unexpected arguments');
      return d;
    }
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      const [storage, offset, size, stride, requiresGrad] = args;
      if (
        typeof storage !== 'object' ||
        storage === null ||
        (storage as { kind?: string }).kind !== 'storage' ||
        !isInt(offset) ||
        !Array.isArray(size) ||
        !size.every(isInt) ||
        !Array.isArray(stride) ||
        !stride.every(isInt) ||
        size.length !== stride.length
      ) {
        fail('malformed _rebuild_tensor_v2 arguments');
      }
      return {
        kind: 'tensor',
        storage: storage as TorchStorageRef,
        storageOffset: offset as number,
        shape: size as number[],
        stride: stride as number[],
        requiresGrad: requiresGrad === true,
      } satisfies TorchTensorRef;
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state': {
      const t = args[0];
      if (typeof t !== 'object' || t === null || (t as { kind?: string }).kind !== 'tensor') fail(`${name} of a non-tensor`);
      return { ...(t as TorchTensorRef), requiresGrad: args[1] === true };
    }
    case 'torch._tensor._rebuild_from_type_v2': {
      // (func, new_type, args, state): rebuild with func(*args); the subclass type is dropped
      const [fn, , fnArgs] = args;
      if (!(fn instanceof AllowedGlobal) || !Array.isArray(fnArgs)) fail('malformed _rebuild_from_type_v2 arguments');
      return callGlobal((fn as AllowedGlobal).qualifiedName, fnArgs as unknown[], fail);
    }
    case 'torch.Size':
      if (args.length !== 1 || !Array.isArray(args[0])) fail('torch.Size expects one tuple');
      return [...(args[0] as unknown[])];
    case 'torch.device':
      return args.map(String).join(':');
    case '_codecs.encode': {
      const [text, encoding] = args;
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) fail('_codecs.encode other than latin1');
      const s = text as string;
      const out = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
      return out;
    }
    case 'torch.Tensor':
    case 'torch.nn.parameter.Parameter':
      return fail(`${name} cannot be called directly`);
    default:
      return fail(`no interpretation for '${name}'`);
  }
}

/** Whether `v` is a persistent-id storage class (`torch.FloatStorage`), returning its dtype. */
export function storageClassDtype(v: unknown): WeightDtype | undefined {
  return v instanceof StorageClass ? v.dtype : undefined;
}
