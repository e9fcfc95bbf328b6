/**
 * torchvision weight import and export: our state names are torchvision's, so importing is a prefix plus the
 * layout transpose each layer recorded for its variables when it registered them (nothing clever), applied to
 * safetensors files and `torch.save` archives alike. Each family's table lists only the keys to skip or refuse.
 *
 * Layouts: torch convolution kernels are OIHW `[Cout, Cin/groups, kh, kw]`, ours HWIO `[kh, kw, Cin/groups,
 * Cout]`; torch Linear weights are `[out, in]`, ours `[in, out]`; vectors (biases, BatchNorm affine and running
 * statistics) are the same. `num_batches_tracked` is not kept by our BatchNorm: it is ignored on import and written
 * as an int64 zero on export so that torch's strict `load_state_dict` accepts the file.
 *
 * Reference: torchvision `models/resnet.py` (state-dict names), timm `models/resnet.py` (same names for the
 * plain ResNets; its deep stems `conv1.0/1/3/4/6` and average-pool shortcuts `downsample.1/2` have no
 * counterpart in torchvision's architecture and are refused), tinygrad `extra/models/resnet.py`
 * (`load_from_pretrained`: rename + transpose).
 */
import * as tf from '@tensorflow/tfjs-core';
import { BatchNorm2d } from '../nn/layers';
import { Module, StateEntry } from '../nn/module';
import { DTYPE_BYTES, bytesOf, decodeFloat32, isFloatDtype } from './dtypes';
import { SafetensorsEntry, writeSafetensors } from './safetensors';
import { WeightSource, openWeightSource } from './weight_file';

import type { TensorLayout } from '../nn/module';

/** How a tensor's layout differs between torch and us (recorded by the layers, see `src/nn/module.ts`). */
export type { TensorLayout };

/**
 * The key contract of one model family beyond its names, which equal our state names: the torch keys skipped on
 * import, those of architectures we do not build, and the optional head. Layouts are not listed here: every layer
 * records its variables' layouts when it registers them (`StateEntry.layout`), and import and export transpose by
 * that record.
 */
export interface NameTable {
  family: string;
  /** torch keys with no counterpart that are skipped on import (reported as `ignored`). */
  ignored: RegExp[];
  /** torch keys of architectures we do not build, with the reason given when they are found. */
  unsupported: { pattern: RegExp; reason: string }[];
  /** Head keys that are skipped when the model has no such head (a backbone loading a classifier checkpoint). */
  optionalHead: RegExp;
}

/** BatchNorm's step counter, which our BatchNorm does not keep. */
const NUM_BATCHES_TRACKED = /(^|\.)num_batches_tracked$/;

/** torchvision (and timm) ResNet, ResNeXt and wide ResNet classification state dicts. */
export const RESNET_NAME_TABLE: NameTable = {
  family: 'resnet',
  ignored: [NUM_BATCHES_TRACKED],
  unsupported: [
    { pattern: /^conv1\.\d+\./, reason: "a deep stem (timm resnet*d/*t/*s 'conv1.0..6'); torchvision's ResNet has one 7x7 conv1" },
    {
      pattern: /^layer[1-4]\.\d+\.downsample\.2\./,
      reason: "an average-pool shortcut (timm avg_down 'downsample.1/2'); torchvision's shortcut is a strided 1x1 conv",
    },
    { pattern: /^layer[1-4]\.\d+\.se\./, reason: 'squeeze-and-excitation blocks (timm seresnet*), which torchvision ResNets lack' },
  ],
  optionalHead: /^fc\./,
};

/**
 * torchvision `fcn_resnet50/101` state dicts: `backbone.*` (dilated ResNet), `classifier.*` (FCNHead on C5),
 * `aux_classifier.*` (FCNHead on C4, skipped when the model has no auxiliary head).
 * Reference: torchvision `models/segmentation/fcn.py`, `_utils.py`.
 */
export const FCN_NAME_TABLE: NameTable = {
  family: 'fcn',
  ignored: [NUM_BATCHES_TRACKED],
  unsupported: [],
  optionalHead: /^aux_classifier\./,
};

/**
 * torchvision `deeplabv3_resnet50/101` state dicts: `backbone.*`, `classifier.*` (DeepLabHead: `0` ASPP, `1` 3x3
 * conv, `2` BatchNorm, `4` classifier), `aux_classifier.*` (FCNHead, skipped when the model has no auxiliary head).
 * Reference: torchvision `models/segmentation/deeplabv3.py`.
 */
export const DEEPLABV3_NAME_TABLE: NameTable = {
  family: 'deeplabv3',
  ignored: [NUM_BATCHES_TRACKED],
  unsupported: [],
  optionalHead: /^aux_classifier\./,
};

/**
 * torchvision RetinaNet (`retinanet_resnet50_fpn`, torchvision >= 0.13 names): `backbone.body.*` (the ResNet
 * trunk, FrozenBatchNorm2d buffers), `backbone.fpn.*` (`inner_blocks.{i}.0`, `layer_blocks.{i}.0`,
 * `extra_blocks.p6/p7`), `head.classification_head.*` (`conv.{i}.0`, `cls_logits`), `head.regression_head.*`
 * (`conv.{i}.0`, `bbox_reg`). Checkpoints with pre-0.13 names (`inner_blocks.0.weight`, `conv.2.weight`) are
 * refused with the reason: torchvision >= 0.13 renames them on `load_state_dict`, and `state_dict()` then has the
 * current names. Reference: torchvision `models/detection/retinanet.py`, `ops/feature_pyramid_network.py`.
 */
export const RETINANET_NAME_TABLE: NameTable = {
  family: 'retinanet',
  ignored: [NUM_BATCHES_TRACKED],
  unsupported: [
    {
      pattern: /^(backbone\.fpn\.(inner|layer)_blocks\.\d+|head\.(classification|regression)_head\.conv\.\d+)\.(weight|bias)$/,
      reason: 'torchvision < 0.13 names (inner_blocks.0.weight, conv.2.weight): load it in torchvision >= 0.13 and save its state_dict() again',
    },
    {
      pattern: /^head\.(classification|regression)_head\.conv\.\d+\.1\./,
      reason: 'GroupNorm in the head towers (retinanet_resnet50_fpn_v2), which this model does not build',
    },
  ],
  // A detector always has its head: nothing is optional.
  optionalHead: /(?!)/,
};

/**
 * torchvision Faster R-CNN (`fasterrcnn_resnet50_fpn`, torchvision >= 0.13 names): `backbone.body.*`,
 * `backbone.fpn.*` (P2..P5 blocks; the max-pool P6 has no parameters), `rpn.head.*` (`conv.0.0`, `cls_logits`,
 * `bbox_pred`), `roi_heads.box_head.fc6|fc7.*`, `roi_heads.box_predictor.cls_score|bbox_pred.*` (Linear layers).
 * Reference: torchvision `models/detection/faster_rcnn.py`, `rpn.py`.
 */
export const FASTER_RCNN_NAME_TABLE: NameTable = {
  family: 'faster_rcnn',
  ignored: [NUM_BATCHES_TRACKED],
  unsupported: [
    {
      pattern: /^(backbone\.fpn\.(inner|layer)_blocks\.\d+|rpn\.head\.conv)\.(weight|bias)$/,
      reason: 'torchvision < 0.13 names (inner_blocks.0.weight, rpn.head.conv.weight): load it in torchvision >= 0.13 and save its state_dict() again',
    },
    {
      pattern: /^(roi_heads\.box_head\.\d+\.|rpn\.head\.conv\.1\.)/,
      reason: 'the convolutional box head and two-convolution RPN head of fasterrcnn_resnet50_fpn_v2, which this model does not build',
    },
  ],
  // A detector always has its heads: nothing is optional.
  optionalHead: /(?!)/,
};

/** Name tables by family. Adding a family is adding one line here. */
export const NAME_TABLES = {
  resnet: RESNET_NAME_TABLE,
  fcn: FCN_NAME_TABLE,
  deeplabv3: DEEPLABV3_NAME_TABLE,
  retinanet: RETINANET_NAME_TABLE,
  faster_rcnn: FASTER_RCNN_NAME_TABLE,
} satisfies Record<string, NameTable>;

/** A model family with a name table. */
export type WeightFamily = keyof typeof NAME_TABLES;

/** torch's shape of a tensor whose shape in our layout is `shape`. */
export function torchShape(shape: readonly number[], layout: TensorLayout): number[] {
  switch (layout) {
    case 'conv2d':
      return [shape[3], shape[2], shape[0], shape[1]]; // HWIO -> OIHW
    case 'linear':
      return [shape[1], shape[0]]; // [in, out] -> [out, in]
    case 'vector':
      return [...shape];
    default: {
      const never: never = layout;
      throw new Error(`unknown layout ${String(never)}`);
    }
  }
}

/** Permutation taking a torch-layout tensor to ours. */
function permFromTorch(layout: TensorLayout): number[] | undefined {
  return layout === 'conv2d' ? [2, 3, 1, 0] : layout === 'linear' ? [1, 0] : undefined;
}

/** Permutation taking our layout to torch's. */
function permToTorch(layout: TensorLayout): number[] | undefined {
  return layout === 'conv2d' ? [3, 2, 0, 1] : layout === 'linear' ? [1, 0] : undefined;
}

/** Options of `loadTorchvisionWeights`. */
export interface LoadTorchvisionOptions {
  /**
   * Throw unless every model tensor is found with the right shape and every file tensor (after `prefix` and the
   * ignore rules) is used, as torch's `load_state_dict(strict=True)`. Default true. Checked before any variable is
   * written, so a failed strict load leaves the model untouched.
   */
  strict?: boolean;
  /** Name table. Default `resnet`. */
  family?: WeightFamily;
  /**
   * Key prefix of the model's tensors in the file, e.g. `backbone.body.` for torchvision detection checkpoints.
   * Keys without it are ignored (reported in `ignored`). Default none.
   */
  prefix?: string;
}

/** What an import did. Names are the model's (torchvision) names, without the file prefix. */
export interface WeightLoadReport {
  file: string;
  format: 'safetensors' | 'pth';
  /** Model tensors written. */
  loaded: string[];
  /** Model tensors the file lacks (left as they were). */
  missing: string[];
  /** File tensors that map to nothing in the model (with the reason for known foreign architectures). */
  unexpected: string[];
  /** Tensors present in both with different shapes, in torch's layout (left as they were). */
  shapeMismatched: { name: string; fileShape: number[]; modelShape: number[] }[];
  /** File tensors skipped on purpose: `num_batches_tracked`, keys outside `prefix`, a head the model lacks. */
  ignored: string[];
}

function listing(names: string[], max = 12): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, ... (${names.length} in all)` : shown;
}

/** A prefix `p` such that the file holds `p + name` for the model's first tensor, to hint at `prefix`. */
function guessPrefix(fileKeys: string[], modelNames: string[]): string | undefined {
  const first = modelNames[0];
  if (!first) return undefined;
  const hit = fileKeys.find((k) => k.endsWith(`.${first}`));
  return hit ? hit.slice(0, hit.length - first.length) : undefined;
}

/**
 * Name the torchvision ResNet whose stage depths and block type a state dict's keys show (`layer<i>.<j>.conv3` means
 * bottleneck blocks), e.g. `resnet50 (blocks 3, 4, 6, 3, bottleneck)`; undefined when the keys hold no ResNet
 * stages. Keys may carry a prefix (`backbone.body.`). Wide and ResNeXt variants share resnet50/101's depths.
 */
export function resnetDepthOf(keys: Iterable<string>): string | undefined {
  const blocks = [0, 0, 0, 0];
  let bottleneck = false;
  for (const k of keys) {
    const m = /(?:^|\.)layer([1-4])\.(\d+)\.conv([123])\.weight$/.exec(k);
    if (!m) continue;
    const stage = Number(m[1]) - 1;
    blocks[stage] = Math.max(blocks[stage], Number(m[2]) + 1);
    if (m[3] === '3') bottleneck = true;
  }
  if (blocks.every((b) => b === 0)) return undefined;
  const names: Record<string, string> = {
    '2,2,2,2,basic': 'resnet18', '3,4,6,3,basic': 'resnet34', '3,4,6,3,bottleneck': 'resnet50',
    '3,4,23,3,bottleneck': 'resnet101', '3,8,36,3,bottleneck': 'resnet152',
  };
  const kind = bottleneck ? 'bottleneck' : 'basic';
  const name = names[`${blocks.join(',')},${kind}`] ?? 'ResNet';
  return `${name} (blocks ${blocks.join(', ')}, ${kind})`;
}

/**
 * Load torchvision (or timm) weights into a model whose state names follow torchvision's: a `ResNet` backbone or
 * a `ResNetClassifier`. The file is a safetensors file or a `torch.save` archive of a state dict (also nested
 * under `state_dict`/`model`). Convolution kernels are transposed OIHW → HWIO, Linear weights `[out, in]` →
 * `[in, out]`; BatchNorm running statistics are loaded; `num_batches_tracked` is ignored; `fc.*` is ignored when
 * the model has no `fc` (a backbone alone).
 *
 * @param model the module to fill; its variables are assigned in place (no new tensors stay alive).
 * @param file path of the weight file.
 * @returns what was loaded, missing, unexpected, mismatched and ignored.
 * @throws Error naming the file when `strict` and any tensor is missing, unexpected or shape-mismatched (the
 *   message lists them and the reason for known foreign architectures), when the file is a resvision checkpoint
 *   (use `restoreModel`), when a tensor's dtype is not floating point, or on any format error.
 */
export async function loadTorchvisionWeights(model: Module, file: string, opts: LoadTorchvisionOptions = {}): Promise<WeightLoadReport> {
  const source = await openWeightSource(file);
  try {
    return await loadFromSource(model, source, opts);
  } finally {
    await source.close();
  }
}

async function loadFromSource(model: Module, source: WeightSource, opts: LoadTorchvisionOptions): Promise<WeightLoadReport> {
  const strict = opts.strict ?? true;
  const table: NameTable = NAME_TABLES[opts.family ?? 'resnet'];
  const prefix = opts.prefix ?? '';
  const file = source.file;
  if (source.metadata.format === 'resvision-checkpoint') {
    throw new Error(`${file}: a resvision training checkpoint (our layouts), not torchvision weights: use loadCheckpoint + restoreModel`);
  }
  const entries = model.stateEntries();
  const byName = new Map<string, StateEntry>(entries.map((e) => [e.name, e]));
  const hasHead = entries.some((e) => table.optionalHead.test(e.name));
  const report: WeightLoadReport = { file, format: source.format, loaded: [], missing: [], unexpected: [], shapeMismatched: [], ignored: [] };
  const reasons: string[] = [];
  const fileNames = new Map<string, string>(); // model name -> file key
  for (const key of source.keys()) {
    if (prefix && !key.startsWith(prefix)) {
      report.ignored.push(key);
      continue;
    }
    const name = key.slice(prefix.length);
    if (table.ignored.some((r) => r.test(name))) report.ignored.push(key);
    else if (!hasHead && table.optionalHead.test(name)) report.ignored.push(key);
    else if (!byName.has(name)) {
      report.unexpected.push(name);
      const u = table.unsupported.find((x) => x.pattern.test(name));
      if (u && !reasons.includes(u.reason)) reasons.push(u.reason);
    } else fileNames.set(name, key);
  }
  const plan: { entry: StateEntry; key: string; layout: TensorLayout; shape: number[] }[] = [];
  for (const e of entries) {
    const layout = e.layout;
    const key = fileNames.get(e.name);
    if (key === undefined) {
      report.missing.push(e.name);
      continue;
    }
    const info = source.info(key);
    const expected = torchShape(e.variable.shape, layout);
    if (info.shape.length !== expected.length || info.shape.some((d, i) => d !== expected[i])) {
      report.shapeMismatched.push({ name: e.name, fileShape: info.shape, modelShape: expected });
      continue;
    }
    if (!isFloatDtype(info.dtype)) throw new Error(`${file}: tensor '${key}' is ${info.dtype}, expected a floating-point dtype`);
    plan.push({ entry: e, key, layout, shape: info.shape });
  }
  if (strict && (report.missing.length || report.unexpected.length || report.shapeMismatched.length)) {
    const parts: string[] = [];
    if (report.missing.length) parts.push(`missing: ${listing(report.missing)}`);
    if (report.unexpected.length) parts.push(`unexpected: ${listing(report.unexpected)}`);
    if (report.shapeMismatched.length) {
      parts.push(
        `shape mismatch (torch layout): ${listing(report.shapeMismatched.map((m) => `${m.name} file [${m.fileShape}] vs model [${m.modelShape}]`), 6)}`,
      );
    }
    for (const r of reasons) parts.push(`the file holds ${r}`);
    const depth = resnetDepthOf(source.keys());
    if (depth && (report.missing.length || report.unexpected.length)) parts.push(`the file's ResNet layers are those of a ${depth}`);
    const hint = fileNames.size === 0 && !prefix ? guessPrefix(source.keys(), entries.map((e) => e.name)) : undefined;
    if (hint) parts.push(`its keys look prefixed: pass prefix '${hint}'`);
    throw new Error(`${file}: weights do not match the model (${table.family} name table, strict): ${parts.join('; ')}`);
  }
  for (const p of plan) {
    const host = await source.read(p.key);
    const values = decodeFloat32(host);
    const perm = permFromTorch(p.layout);
    tf.tidy(() => {
      const t = tf.tensor(values, p.shape, 'float32');
      p.entry.variable.assign(perm ? tf.transpose(t, perm) : t);
    });
    report.loaded.push(p.entry.name);
  }
  return report;
}

/**
 * Dotted state paths of every `BatchNorm2d` in `model` (e.g. `layer1.0.bn1`), found by walking the module tree and
 * naming each BatchNorm by its `running_var` state entry, so that however children are mounted the paths agree
 * with `stateEntries()`.
 */
export function batchNormPaths(model: Module): string[] {
  const names = new Map<tf.Variable, string>(model.stateEntries().map((e) => [e.variable, e.name]));
  const out: string[] = [];
  const walk = (m: Module): void => {
    if (m instanceof BatchNorm2d) {
      const n = names.get(m.runningVar);
      if (n !== undefined) out.push(n.slice(0, -'.running_var'.length));
    }
    for (const [, c] of m.namedChildren()) walk(c);
  };
  walk(model);
  return out;
}

/** Options of `exportTorchvisionWeights`. */
export interface ExportTorchvisionOptions {
  /**
   * @deprecated Export needs no family: names are the model's and layouts are those its layers recorded. Accepted
   * so that existing callers keep compiling; it changes nothing.
   */
  family?: WeightFamily;
  /** Prefix put before every key (e.g. `backbone.body.`). Default none. */
  prefix?: string;
}

/**
 * The torch state-dict entries of `model`: names, torch shapes and dtypes in registration order, with a
 * `num_batches_tracked` (I64 scalar) after each `BatchNorm2d`'s statistics, as `model.state_dict()` in torch.
 */
export function torchStateSpec(model: Module, opts: ExportTorchvisionOptions = {}): { name: string; shape: number[]; dtype: 'F32' | 'I64' }[] {
  const prefix = opts.prefix ?? '';
  const bns = new Set(batchNormPaths(model));
  const out: { name: string; shape: number[]; dtype: 'F32' | 'I64' }[] = [];
  for (const e of model.stateEntries()) {
    out.push({ name: prefix + e.name, shape: torchShape(e.variable.shape, e.layout), dtype: 'F32' });
    const m = /^(.*)\.running_var$/.exec(e.name);
    if (m && bns.has(m[1])) out.push({ name: `${prefix}${m[1]}.num_batches_tracked`, shape: [], dtype: 'I64' });
  }
  return out;
}

/**
 * Write `model`'s weights as a safetensors file that torchvision's `load_state_dict` accepts: torch names, OIHW
 * kernels, `[out, in]` Linear weights, float32, and an int64 zero `num_batches_tracked` for every BatchNorm2d.
 * Written to a temporary file and renamed.
 *
 * @param model the module to export (read only).
 * @param file destination path.
 * @throws Error on a write failure (nothing is left at `file` then).
 */
export async function exportTorchvisionWeights(model: Module, file: string, opts: ExportTorchvisionOptions = {}): Promise<void> {
  const prefix = opts.prefix ?? '';
  const variables = new Map(model.stateEntries().map((e) => [prefix + e.name, e]));
  const entries: SafetensorsEntry[] = torchStateSpec(model, opts).map((s) => {
    if (s.dtype === 'I64') return { name: s.name, dtype: 'I64', shape: [], data: new Uint8Array(DTYPE_BYTES.I64) };
    const e = variables.get(s.name)!;
    const perm = permToTorch(e.layout);
    return {
      name: s.name,
      dtype: 'F32',
      shape: s.shape,
      data: async () => {
        const t = perm ? tf.transpose(e.variable, perm) : e.variable;
        try {
          return bytesOf((await t.data()) as Float32Array);
        } finally {
          if (t !== e.variable) t.dispose();
        }
      },
    };
  });
  await writeSafetensors(file, entries, { format: 'pt' });
}
