/**
 * COCOeval parameters (pycocotools `Params` for iouType 'bbox' and 'segm'): the defaults of `setDetParams` and
 * overrides written with pycocotools' attribute names.
 *
 * Reference: pycocotools `PythonAPI/pycocotools/cocoeval.py` (class `Params`).
 */

import { briefJson } from '../brief_json';
import { linspace } from './numpy_compat';

/** The kind of region compared by IoU. */
export type IouType = 'bbox' | 'segm';

/** COCOeval parameters, with pycocotools' names and meaning. */
export interface CocoEvalParams {
  iouType: IouType;
  /** Image ids to evaluate (sorted and de-duplicated by `evaluate`). Default: all ground-truth images. */
  imgIds: number[];
  /** Category ids to evaluate (sorted and de-duplicated by `evaluate` when `useCats`). Default: all categories. */
  catIds: number[];
  /** `[T]` IoU thresholds, fractions 0..1. Default: `linspace(0.5, 0.95, 10)`. */
  iouThrs: number[];
  /** `[R]` recall thresholds, fractions 0..1. Default: `linspace(0, 1, 101)`. */
  recThrs: number[];
  /** `[M]` maximum detections per image (sorted by `evaluate`). Default `[1, 10, 100]`. */
  maxDets: number[];
  /** `[A]` object area ranges `[lo, hi]`, pixels², both ends included. */
  areaRng: [number, number][];
  /** `[A]` labels of the area ranges (`summarize` looks up 'all', 'small', 'medium', 'large'). */
  areaRngLbl: string[];
  /** When false, categories are ignored (all detections compete for all ground truths), as in proposal scoring. */
  useCats: boolean;
}

/** pycocotools `Params.setDetParams` for the given IoU type (image and category ids empty). */
export function defaultCocoEvalParams(iouType: IouType): CocoEvalParams {
  return {
    iouType,
    imgIds: [],
    catIds: [],
    iouThrs: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
    recThrs: linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1),
    maxDets: [1, 10, 100],
    areaRng: [
      [0 ** 2, 1e5 ** 2],
      [0 ** 2, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e5 ** 2],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
    useCats: true,
  };
}

const PARAM_KEYS = ['imgIds', 'catIds', 'iouThrs', 'recThrs', 'maxDets', 'areaRng', 'areaRngLbl', 'useCats'] as const;

/**
 * Applies overrides written with pycocotools' attribute names (as in a `params.json`) to `params`, in place.
 * @param params the parameters to change.
 * @param overrides `{maxDets?, useCats?: 0|1|boolean, iouThrs?, recThrs?, areaRng?, areaRngLbl?, imgIds?, catIds?}`.
 * @param source a name for error messages.
 * @throws on an unknown key (listing the valid ones) or a value of the wrong type.
 */
export function applyCocoEvalParamOverrides(params: CocoEvalParams, overrides: unknown, source = 'params'): void {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new Error(`${source}: parameter overrides must be an object`);
  }
  const numList = (key: string, v: unknown): number[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new Error(`${source}: "${key}" must be a list of finite numbers, got ${briefJson(v)}`);
    }
    return [...v];
  };
  for (const [key, v] of Object.entries(overrides)) {
    switch (key) {
      case 'imgIds':
      case 'catIds':
      case 'iouThrs':
      case 'recThrs':
        params[key] = numList(key, v);
        break;
      case 'maxDets': {
        const list = numList(key, v);
        if (!list.every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`${source}: "maxDets" must hold non-negative integers`);
        params.maxDets = list;
        break;
      }
      case 'areaRng':
        if (!Array.isArray(v) || !v.every((r) => Array.isArray(r) && r.length === 2)) {
          throw new Error(`${source}: "areaRng" must be a list of [lo, hi] pairs, got ${briefJson(v)}`);
        }
        params.areaRng = v.map((r, i) => numList(`areaRng[${i}]`, r) as [number, number]);
        break;
      case 'areaRngLbl':
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
          throw new Error(`${source}: "areaRngLbl" must be a list of strings`);
        }
        params.areaRngLbl = [...v];
        break;
      case 'useCats':
        if (v !== 0 && v !== 1 && v !== true && v !== false) throw new Error(`${source}: "useCats" must be 0, 1 or a boolean`);
        params.useCats = Boolean(v);
        break;
      default:
        throw new Error(`${source}: unknown parameter "${key}"; valid: ${PARAM_KEYS.join(', ')}`);
    }
  }
}
