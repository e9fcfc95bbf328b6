/**
 * Typed configuration, derived from the JSON Schemas in `schema.ts` (the one source of what a config may contain;
 * each field is documented there, next to its bounds). JSON files are plain data, validated against those schemas
 * at load time, so a validated value has exactly these types.
 */
import type { LrSchedule } from '../engine/lr_schedule';
import type { FromSchema } from './from_schema';
import type {
  backboneSchema,
  classificationDataSchema,
  classificationSchema,
  cocoDetectionDataSchema,
  detectionDataSchema,
  detectionSchema,
  fasterRcnnDetectionSchema,
  optimizerSchema,
  retinanetDetectionSchema,
  scheduleSchema,
  segmentationBackboneSchema,
  segmentationDataSchema,
  segmentationEvalSchema,
  segmentationHeadSchema,
  segmentationSchema,
  segmentationSplitSchema,
  segmentationTrainSchema,
  trainSchema,
  vocDetectionDataSchema,
} from './schema';

/** The backbone: a torchvision ResNet by name and its options (see `ResNetOptions`). */
export type BackboneConfig = FromSchema<typeof backboneSchema>;

/** SGD as torch.optim.SGD. `lr = baseLr * batchSize / baseBatchSize` (linear scaling, Goyal et al. 2017). */
export type OptimizerConfig = FromSchema<typeof optimizerSchema>;

/**
 * Learning-rate schedule over `maxIter` iterations: the engine's `LrSchedule` (src/engine/lr_schedule.ts) without
 * `baseLr`, which comes from the optimizer's linear scaling rule.
 */
export type ScheduleConfig = FromSchema<typeof scheduleSchema>;

/** Loop settings shared by every task. */
export type TrainConfig = FromSchema<typeof trainSchema>;

/** ImageFolder data and the classification transforms (torchvision's ImageNet reference presets). */
export type ClassificationDataConfig = FromSchema<typeof classificationDataSchema>;

/** A classification run: `resvision train configs/classification/*.json`. */
export type ClassificationConfig = FromSchema<typeof classificationSchema>;

/** COCO instances data: `<root>/<annotationsDir>/instances_<split>.json`, images in `<root>/<imagesDir ?? split>/`. */
export type CocoDetectionDataConfig = FromSchema<typeof cocoDetectionDataSchema>;

/** Pascal VOC data: `ImageSets/Main/<split>.txt`, `<annotationsDir>/<id>.xml`, `<imagesDir>/<id><imageExt>`. */
export type VocDetectionDataConfig = FromSchema<typeof vocDetectionDataSchema>;

/** Detection data common to both formats: splits, class list and the detection transforms (detectron2 presets). */
export type DetectionDataCommonConfig = Omit<CocoDetectionDataConfig, 'format' | 'annotationsDir' | 'imagesDir'>;

/** Detection data, discriminated by `format`. */
export type DetectionDataConfig = FromSchema<typeof detectionDataSchema>;

/** A RetinaNet run (`model.arch` "retinanet" or absent). */
export type RetinaNetConfig = FromSchema<typeof retinanetDetectionSchema>;

/** A Faster R-CNN run (`model.arch` "faster_rcnn"). */
export type FasterRCNNConfig = FromSchema<typeof fasterRcnnDetectionSchema>;

/** A detection run: `resvision train configs/detection/*.json`, RetinaNet or Faster R-CNN by `model.arch`. */
export type DetectionConfig = FromSchema<typeof detectionSchema>;

/** The backbone of a segmentation model (its dilation and levels follow from the model's options). */
export type SegmentationBackboneConfig = FromSchema<typeof segmentationBackboneSchema>;

/** The segmentation head, discriminated by `type`. */
export type SegmentationHeadConfig = FromSchema<typeof segmentationHeadSchema>;

/** Where one split's images and masks are, relative to `data.root`. */
export type SegmentationSplitConfig = FromSchema<typeof segmentationSplitSchema>;

/** Semantic segmentation data (VOC layout or CamVid-style folders) and the torchvision segmentation transforms. */
export type SegmentationDataConfig = FromSchema<typeof segmentationDataSchema>;

/** Evaluation and prediction: predictions are always mapped back to the original image size. */
export type SegmentationEvalConfig = FromSchema<typeof segmentationEvalSchema>;

/** Loop settings of a segmentation run: the shared ones plus the choice to skip the evaluation after the last step. */
export type SegmentationTrainConfig = FromSchema<typeof segmentationTrainSchema>;

/** A semantic segmentation run: `resvision train configs/segmentation/*.json` (FCN or DeepLabV3 on a dilated ResNet, or Semantic FPN). */
export type SegmentationConfig = FromSchema<typeof segmentationSchema>;

/** Every config kind, discriminated by `task`. */
export type Config = ClassificationConfig | DetectionConfig | SegmentationConfig;

/** Compile-time check that the schedule schema describes the engine's `LrSchedule` (less `baseLr`) and nothing else. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const scheduleMatchesEngine: Same<ScheduleConfig, Omit<LrSchedule, 'baseLr'>> = true;
void scheduleMatchesEngine;
/** Compile-time check that a detection config is exactly one of the two detectors' configs. */
const detectionIsUnion: Same<DetectionConfig, RetinaNetConfig | FasterRCNNConfig> = true;
void detectionIsUnion;
