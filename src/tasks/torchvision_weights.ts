/**
 * A whole-model torchvision state dict in place of a training checkpoint (`resvision eval|predict --weights`): the
 * model is built from the config through the architecture table, with the number of classes its classifier tensor
 * has, and loaded strictly (every tensor must fit). The file also decides the label space: torchvision's COCO
 * detectors predict COCO category ids (RetinaNet: label l is category id l, with 91 outputs; Faster R-CNN: label l is
 * category id l + 1, background being the predictor's output 0), its segmentation weights the 21 VOC classes, its
 * classifiers the 1000 ImageNet classes.
 *
 * Reference: torchvision `models/detection/retinanet.py`, `faster_rcnn.py` (`num_classes=91`), `models/_meta.py`
 * (`_COCO_CATEGORIES`), `references/detection/coco_utils.py` (labels are category ids).
 */
import * as path from 'path';
import type { LogSink } from '../common/log';
import type { Config } from '../config/types';
import type { Module } from '../nn/module';
import { CATEGORIES, type CategorySet } from '../weights/categories';
import { loadTorchvisionWeights } from '../weights/torchvision';
import { TORCHVISION_WEIGHTS } from '../weights/torchvision_hub';
import { openWeightSource, type WeightSource } from '../weights/weight_file';
import { architecture, architectureOf } from './models';

/** The label space of a state dict: what its classifier predicts. */
export interface WeightsLabelSpace {
  /** K the model is built with (detection: no background). */
  numClasses: number;
  /** `[K]` class name of each label. */
  names: string[];
  /**
   * `[K]` detection only: the category id each label stands for (torchvision: COCO ids), -1 for the labels of no
   * category (COCO's `__background__` and 11 unused ids, `N/A`). Other tasks: the labels 0..K-1.
   */
  categoryIds: number[];
  /** The known class-name list the names come from, if any. */
  categories?: CategorySet;
  /** How the names were decided, for stderr (`COCO (a torchvision COCO file)`, `assumed COCO: 91 category ids`). */
  how: string;
}

/** The category set of a torchvision weight file recognized by its published name, e.g. `resnet50-11ad3fa6.pth`. */
export function publishedCategories(file: string): CategorySet | undefined {
  const base = path.basename(file);
  return Object.values(TORCHVISION_WEIGHTS).find((w) => w.fileName === base)?.categories;
}

/** The shape of tensor `key` of a state dict. @throws Error naming the file and the key when the file lacks it. */
function shapeOf(source: WeightSource, key: string, what: string): number[] {
  if (!source.keys().includes(key)) {
    const first = source.keys().slice(0, 4).join(', ');
    throw new Error(`${source.file}: not a torchvision ${what} state dict: it has no '${key}' (the classifier whose shape gives the number of classes); its first tensors: ${first}`);
  }
  return source.info(key).shape;
}

/**
 * The number of outputs per label of a config's model in a state dict and how a label maps to a category id:
 * RetinaNet's `cls_logits` has A x K outputs (A anchors per location, from `bbox_reg`'s 4 A), label l ↔ id l;
 * Faster R-CNN's `cls_score` has K + 1 (background first), label l ↔ id l + 1; classifiers `fc` and segmentation
 * heads `classifier.4` have K.
 * @throws Error naming the file when the classifier tensor is absent, or the config's model has no torchvision
 *   state dicts (Semantic FPN).
 */
function classifierOf(cfg: Config, source: WeightSource): { numClasses: number; firstCategoryId: number } {
  const arch = architectureOf(cfg);
  const name = architecture(cfg).modelName(cfg);
  switch (arch) {
    case 'classifier':
      return { numClasses: shapeOf(source, 'fc.weight', name)[0], firstCategoryId: 0 };
    case 'retinanet': {
      const cls = shapeOf(source, 'head.classification_head.cls_logits.weight', name)[0];
      const anchors = shapeOf(source, 'head.regression_head.bbox_reg.weight', name)[0] / 4;
      if (!Number.isInteger(anchors) || anchors < 1 || cls % anchors !== 0) {
        throw new Error(`${source.file}: cls_logits has ${cls} outputs and bbox_reg ${4 * anchors}: not A x K and 4 x A`);
      }
      return { numClasses: cls / anchors, firstCategoryId: 0 };
    }
    case 'faster_rcnn':
      return { numClasses: shapeOf(source, 'roi_heads.box_predictor.cls_score.weight', name)[0] - 1, firstCategoryId: 1 };
    case 'fcn':
    case 'deeplabv3':
      return { numClasses: shapeOf(source, 'classifier.4.weight', name)[0], firstCategoryId: 0 };
    case 'semantic_fpn':
      throw new Error(`${source.file}: torchvision publishes no Semantic FPN; --weights takes state dicts of fcn, deeplabv3, retinanet, fasterrcnn and resnet models`);
    default: {
      const never: never = arch;
      throw new Error(`unknown architecture ${String(never)}`);
    }
  }
}

/**
 * The label space of a state dict for a config's model: K from its classifier tensor; class names from the known
 * list of a published torchvision file (by its file name), else from the list whose size K fits (91 COCO category
 * ids, 1000 ImageNet classes, 21 VOC classes for segmentation), which is then assumed and said in `how`, else
 * `class_<l>`.
 * @throws Error naming the file when it is unreadable or lacks the classifier tensor of the config's model.
 */
export async function weightsLabelSpace(cfg: Config, file: string): Promise<WeightsLabelSpace> {
  const source = await openWeightSource(file);
  let k: { numClasses: number; firstCategoryId: number };
  try {
    k = classifierOf(cfg, source);
  } finally {
    await source.close();
  }
  const { numClasses, firstCategoryId } = k;
  const ids = Array.from({ length: numClasses }, (_, l) => l + firstCategoryId);
  const fits: CategorySet | undefined =
    cfg.task === 'detection' ? (firstCategoryId + numClasses === CATEGORIES.coco.length ? 'coco' : undefined)
      : cfg.task === 'classification' ? (numClasses === CATEGORIES.imagenet.length ? 'imagenet' : undefined)
        : numClasses === CATEGORIES.voc.length ? 'voc' : undefined;
  const published = publishedCategories(file);
  const categories = published && published === fits ? published : fits;
  const how = categories === undefined ? `no known class names for ${numClasses} classes`
    : published === categories ? `${categories.toUpperCase()} class names (a torchvision ${categories.toUpperCase()} file)`
      : `assumed ${categories.toUpperCase()} class names (${cfg.task === 'detection' ? `${numClasses + firstCategoryId} category ids` : `${numClasses} classes`})`;
  if (cfg.task !== 'detection') {
    const names = categories ? [...CATEGORIES[categories]] : ids.map((l) => `class_${l}`);
    return { numClasses, names, categoryIds: ids, categories, how };
  }
  const names = ids.map((id) => (categories ? CATEGORIES[categories][id] : `class_${id}`));
  const categoryIds = ids.map((id, l) => (names[l] === '__background__' || names[l] === 'N/A' ? -1 : id));
  return { numClasses, names, categoryIds, categories, how };
}

/**
 * Build a config's model with the class count of a state dict and load the file strictly into it.
 * @param build builds the model with K classes (the task's builder: inference builds no auxiliary head).
 * @returns the model (the caller disposes it) and the label space.
 * @throws Error naming the file when it lacks the classifier tensor, or when any tensor is missing, unexpected or of
 *   another shape (the first mismatches listed: `loadTorchvisionWeights` strict); the model is disposed then.
 */
export async function loadModelFromWeights<M extends Module>(
  cfg: Config,
  file: string,
  build: (numClasses: number) => M,
  log: LogSink,
): Promise<{ model: M; space: WeightsLabelSpace }> {
  const space = await weightsLabelSpace(cfg, file);
  const family = architecture(cfg).weightFamily;
  const model = build(space.numClasses);
  try {
    await loadTorchvisionWeights(model, file, { family, strict: true });
  } catch (e) {
    model.dispose();
    throw e;
  }
  log(`${file}: ${architecture(cfg).modelName(cfg)} with ${space.numClasses} classes; ${space.how}`);
  return { model, space };
}
