/**
 * ONNX export of a training checkpoint (Node): rebuild the model from the config stored in the checkpoint, restore
 * its weights, emit the graph and write the file atomically. The class names and the stored config go into the
 * model's `metadata_props` so that a consumer needs nothing else.
 */
import * as fs from 'fs';
import type { Config } from '../../config/types';
import { loadCheckpoint } from '../../engine/checkpoint';
import { packageVersion } from '../../engine/package_info';
import type { TrainingCheckpointMeta } from '../../engine/trainer';
import { loadClassifierCheckpoint } from '../../tasks/classification';
import { isFasterRCNNConfig, loadDetectorCheckpoint } from '../../tasks/detection';
import { storedTaskConfig } from '../../tasks/harness';
import { loadSegmentationCheckpoint } from '../../tasks/segmentation';
import { temporaryPath } from '../../weights/safetensors';
import { OnnxExport, OnnxExportTarget, exportOnnx } from './export';

/** A checkpoint's model as an export target, with what the checkpoint says about it. */
export interface CheckpointModel {
  target: OnnxExportTarget;
  /** Class names in label order (the K outputs). */
  classes: string[];
  /** Detection: the category id of each class in the training annotations (COCO ids; 1..K for VOC data). */
  categoryIds?: number[];
  /** The validated config stored in the checkpoint. */
  config: Config;
  /** Release the model's variables. */
  dispose(): void;
}

/**
 * Open a training checkpoint and rebuild its model (classifier, RetinaNet or segmentation model).
 * @param opts.features export a classification checkpoint's backbone as a feature extractor instead of the classifier.
 * @throws Error naming the file when it is missing, is not a training checkpoint, its config does not validate, or
 *   it holds a Faster R-CNN (not exportable: proposal selection and RoIAlign are not in the graph).
 */
export async function loadCheckpointModel(file: string, opts: { features?: boolean } = {}): Promise<CheckpointModel> {
  if (!fs.existsSync(file)) throw new Error(`checkpoint not found: ${file}`);
  const ckpt = await loadCheckpoint<TrainingCheckpointMeta>(file);
  let cfg: Config;
  try {
    cfg = storedTaskConfig(file, ckpt.meta).config;
  } finally {
    await ckpt.close();
  }
  switch (cfg.task) {
    case 'classification': {
      const { model, classes } = await loadClassifierCheckpoint(cfg, file);
      const target: OnnxExportTarget = opts.features ? { kind: 'features', backbone: model.backbone } : { kind: 'classifier', model };
      return { target, classes, config: cfg, dispose: () => model.dispose() };
    }
    case 'detection': {
      if (isFasterRCNNConfig(cfg)) {
        // Between the RPN and the box branch, proposals are selected (top-k, NMS, clipping) in JS and RoIAlign pools
        // a data-dependent number of boxes: a graph of raw outputs, as for RetinaNet, cannot stop there.
        throw new Error(
          `${file}: ONNX export of Faster R-CNN checkpoints is not supported (proposal selection and RoIAlign run ` +
            `outside the exported graph); export its weights for torchvision with \`resvision export-weights ${file} --out FILE.safetensors\``,
        );
      }
      const { model, classes, categoryIds } = await loadDetectorCheckpoint(cfg, file);
      return { target: { kind: 'retinanet', model }, classes, categoryIds, config: cfg, dispose: () => model.dispose() };
    }
    case 'segmentation': {
      const { model, classes } = await loadSegmentationCheckpoint(cfg, file);
      return { target: { kind: 'segmentation', model }, classes, config: cfg, dispose: () => model.dispose() };
    }
    default: {
      const never: never = cfg;
      throw new Error(`${file}: ONNX export of '${(never as { task: string }).task}' checkpoints is not supported`);
    }
  }
}

/**
 * Export a loaded checkpoint model to ONNX bytes, with `resvision.classes` (JSON array), `resvision.config` (the
 * stored config, JSON) and, for detectors, `resvision.categoryIds` (JSON array) in the model metadata.
 */
export function exportCheckpointModel(m: CheckpointModel): OnnxExport {
  const metadata: Record<string, string> = { 'resvision.classes': JSON.stringify(m.classes), 'resvision.config': JSON.stringify(m.config) };
  if (m.categoryIds) metadata['resvision.categoryIds'] = JSON.stringify(m.categoryIds);
  return exportOnnx(m.target, { producerVersion: packageVersion(), metadata });
}

/**
 * `resvision export CKPT --format onnx --out FILE`: write the checkpoint's model as ONNX, under a temporary name
 * then renamed, so an existing file is never left half-written.
 * @returns the export (inputs, outputs, node count) and the class names.
 * @throws Error naming the file (see `loadCheckpointModel`).
 */
export async function exportCheckpointToOnnx(file: string, out: string, opts: { features?: boolean } = {}): Promise<OnnxExport & { classes: string[] }> {
  const m = await loadCheckpointModel(file, opts);
  try {
    const e = exportCheckpointModel(m);
    const tmp = temporaryPath(out);
    try {
      await fs.promises.writeFile(tmp, e.bytes);
      await fs.promises.rename(tmp, out);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
    return { ...e, classes: m.classes };
  } finally {
    m.dispose();
  }
}
