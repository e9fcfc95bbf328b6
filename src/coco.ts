/**
 * `resvision/coco`: COCO evaluation as a light library, with pycocotools' API and results, importing no tensor
 * library, no image library and no package at all (Node's `fs` only).
 *
 * ```ts
 * import { Coco, CocoEval } from 'resvision/coco';
 * const cocoGt = Coco.fromFile('annotations/instances_val2017.json');   // pycocotools COCO(file)
 * const cocoDt = cocoGt.loadRes('detections.json');                      // or an array of result records
 * const E = new CocoEval(cocoGt, cocoDt, 'bbox');                         // 'bbox' | 'segm'
 * E.params.imgIds = [...];                                                // optional, as in pycocotools
 * E.evaluate();
 * E.accumulate();
 * console.log(E.summarize().lines.join('\n'));  // pycocotools' 12 lines; summarize() returns them, it does not print
 * E.stats[0];          // AP @[IoU=0.50:0.95 | area=all | maxDets=100]; E.stats holds the 12 numbers
 * E.eval!.precision;   // Float64Array, C order, shape E.eval!.counts = [T, R, K, A, M], -1 where undefined
 * ```
 *
 * Reference: pycocotools `coco.py` (`COCO`, `loadRes`), `cocoeval.py` (`COCOeval`), `mask.py` (RLE); the port and
 * its documented differences are in datasets/coco/. This file only re-exports.
 */
export { Coco } from '../datasets/coco/coco';
export type { AnnIdFilter } from '../datasets/coco/coco';
export { CocoEval, applyCocoEvalParamOverrides, defaultCocoEvalParams } from '../datasets/coco/cocoeval';
export type { CocoEvalAccumulated, CocoEvalImg, CocoEvalParams, CocoEvalSummary, IouType } from '../datasets/coco/cocoeval';
export * from '../datasets/coco/mask_api';
export type * from '../datasets/coco/types';
