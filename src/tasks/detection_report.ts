/**
 * The text and files of a detection evaluation, shared by `resvision eval` and `resvision merge` (which loads no
 * tensor library, so neither does this module).
 */
import * as fs from 'fs';
import * as path from 'path';
import { formatDetectionMetrics, type DetectionMetrics } from '../../datasets/detection_evaluator';
import type { DetectionSplit } from '../../datasets/detection_split';
import { writeJsonAtomic } from '../common/atomic_write';
import type { DetectionConfig } from '../config/types';

/**
 * The report of an evaluation on `data.valSplit`; with `outDir`, the COCO results JSON `results_<split>.json` (and for
 * VOC data the converted ground truth `gt_<split>_coco.json`) written atomically and named on a last line.
 * @throws Error naming a file that cannot be written.
 */
export async function detectionEvaluationReport(cfg: DetectionConfig, m: DetectionMetrics, split: DetectionSplit, outDir?: string): Promise<string> {
  const report = formatDetectionMetrics(m, cfg.data.valSplit);
  if (!outDir) return report;
  fs.mkdirSync(outDir, { recursive: true });
  const resultsFile = path.join(outDir, `results_${cfg.data.valSplit}.json`);
  await writeJsonAtomic(resultsFile, m.results);
  const written = [resultsFile];
  if (cfg.data.format === 'voc') {
    const gtFile = path.join(outDir, `gt_${cfg.data.valSplit}_coco.json`);
    await writeJsonAtomic(gtFile, split.gt.dataset);
    written.push(gtFile);
  }
  return `${report}\nwrote ${written.join(', ')}`;
}
