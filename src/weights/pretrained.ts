/**
 * Initial weights for a model from a torchvision state dict, with the one exception fine-tuning needs: the
 * classifier layers a model declares (`fc`, `head.classification_head.cls_logits`, `classifier.4`) keep their
 * initialization when the file's have another number of classes, as torchvision's references do when `num_classes`
 * differs from the checkpoint's. Everything else must fit exactly.
 *
 * Reference: torchvision `references/detection/train.py` and `references/segmentation/train.py` (`weights` vs
 * `num_classes`); timm `load_pretrained` (`num_classes != pretrained_cfg['num_classes']`: drop the classifier).
 */
import * as fs from 'fs';
import type { LogSink } from '../common/log';
import type { Module } from '../nn/module';
import { loadTorchvisionWeights, type WeightFamily, type WeightLoadReport } from './torchvision';

/** Options of `loadPretrained`. */
export interface PretrainedOptions {
  /** The torchvision name table of the file. */
  family: WeightFamily;
  /**
   * Key prefixes of the model's classifier layers: when the file's have another shape, or the file has none, they
   * keep their initialization (reported through `log`). Empty: every tensor must fit.
   */
  classifierKeys: readonly string[];
  /** Key prefixes of model tensors the file may lack without an error (e.g. an auxiliary head torchvision omits). */
  optionalKeys?: readonly string[];
  /** What the file should be, for messages (`resnet18 classifier`, `fcn_resnet50`). */
  modelName: string;
  /** Where the note about a re-initialized classifier goes. */
  log: LogSink;
}

/**
 * Load a torchvision state dict into `model`, allowing only the declared classifier layers to differ.
 * @param model its variables are assigned in place.
 * @param file `.safetensors` or `.pth`.
 * @returns what was loaded (see `loadTorchvisionWeights`).
 * @throws Error naming the file when it does not exist, or when a tensor outside the classifier layers is missing,
 *   unexpected or of another shape (listing up to 8 of them).
 */
export async function loadPretrained(model: Module, file: string, opts: PretrainedOptions): Promise<WeightLoadReport> {
  if (!fs.existsSync(file)) throw new Error(`weights file not found: ${file}`);
  const report = await loadTorchvisionWeights(model, file, { family: opts.family, strict: false });
  const problems = pretrainedProblems(report, opts);
  if (problems.length > 0) {
    throw new Error(`${file}: weights do not fit ${opts.modelName}: missing, unexpected or mismatched ${problems.slice(0, 8).join(', ')}`);
  }
  const isClassifier = (n: string) => opts.classifierKeys.some((p) => n.startsWith(p));
  const reinit = [...report.missing.filter(isClassifier), ...report.shapeMismatched.map((m) => m.name).filter(isClassifier)];
  if (reinit.length > 0) {
    opts.log(`${file}: ${reinit.join(', ')} not loaded (absent, or another number of classes); trained from their initialization`);
  }
  return report;
}

/** The tensors of a load report that break the contract of `loadPretrained`, by name. */
export function pretrainedProblems(report: WeightLoadReport, opts: Pick<PretrainedOptions, 'classifierKeys' | 'optionalKeys'>): string[] {
  const allowed = (n: string) => [...opts.classifierKeys, ...(opts.optionalKeys ?? [])].some((p) => n.startsWith(p));
  const isClassifier = (n: string) => opts.classifierKeys.some((p) => n.startsWith(p));
  return [
    ...report.missing.filter((n) => !allowed(n)),
    ...report.unexpected,
    ...report.shapeMismatched.map((m) => m.name).filter((n) => !isClassifier(n)),
  ];
}
