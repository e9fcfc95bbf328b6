/**
 * torchvision's published pretrained weights, by the names torchvision gives them (`<builder>.<Weights enum member>`,
 * e.g. `resnet50.IMAGENET1K_V2`): the file under {@link TORCHVISION_BASE_URL}, whose name carries the first hex digits
 * of its SHA-256 (checked after download, as torch.hub's `check_hash`), the class names the weights predict, the
 * parameter count and the headline metrics torchvision reports.
 *
 * Reference: torchvision 0.14.1 `models/resnet.py`, `models/detection/{retinanet,faster_rcnn}.py`,
 * `models/segmentation/{fcn,deeplabv3}.py` (the `*_Weights` enums); test/golden/torchvision_weights.json, written by
 * scripts/parity/gen_torchvision_weights.py from the installed torchvision, is compared with this table by a test.
 */
import type { CategorySet } from './categories';

/** Where torchvision publishes its weight files. */
export const TORCHVISION_BASE_URL = 'https://download.pytorch.org/models/';

/** One published weight file. */
export interface TorchvisionWeightsEntry {
  /** File name under {@link TORCHVISION_BASE_URL}: `<stem>-<sha256 prefix>.pth`. */
  fileName: string;
  /** The class-name list of the model's outputs (see `CATEGORIES`). */
  categories: CategorySet;
  /** Number of parameters of the torchvision model (`meta['num_params']`). */
  numParams: number;
  /**
   * torchvision's reported metrics in percent: ImageNet val `acc@1`/`acc@5` (resize 232 or 256, crop 224), COCO
   * val2017 `box_map`, or COCO val2017 (VOC's 20 classes) `miou`/`pixel_acc`.
   */
  metricsPercent: Readonly<Record<string, number>>;
}

/** Every weight file resvision knows by name, keyed `<torchvision builder>.<Weights enum member>`. */
export const TORCHVISION_WEIGHTS = {
  'resnet18.IMAGENET1K_V1': { fileName: 'resnet18-f37072fd.pth', categories: 'imagenet', numParams: 11689512, metricsPercent: { 'acc@1': 69.758, 'acc@5': 89.078 } },
  'resnet34.IMAGENET1K_V1': { fileName: 'resnet34-b627a593.pth', categories: 'imagenet', numParams: 21797672, metricsPercent: { 'acc@1': 73.314, 'acc@5': 91.42 } },
  'resnet50.IMAGENET1K_V1': { fileName: 'resnet50-0676ba61.pth', categories: 'imagenet', numParams: 25557032, metricsPercent: { 'acc@1': 76.13, 'acc@5': 92.862 } },
  'resnet50.IMAGENET1K_V2': { fileName: 'resnet50-11ad3fa6.pth', categories: 'imagenet', numParams: 25557032, metricsPercent: { 'acc@1': 80.858, 'acc@5': 95.434 } },
  'resnet101.IMAGENET1K_V1': { fileName: 'resnet101-63fe2227.pth', categories: 'imagenet', numParams: 44549160, metricsPercent: { 'acc@1': 77.374, 'acc@5': 93.546 } },
  'resnet101.IMAGENET1K_V2': { fileName: 'resnet101-cd907fc2.pth', categories: 'imagenet', numParams: 44549160, metricsPercent: { 'acc@1': 81.886, 'acc@5': 95.78 } },
  'resnet152.IMAGENET1K_V1': { fileName: 'resnet152-394f9c45.pth', categories: 'imagenet', numParams: 60192808, metricsPercent: { 'acc@1': 78.312, 'acc@5': 94.046 } },
  'resnet152.IMAGENET1K_V2': { fileName: 'resnet152-f82ba261.pth', categories: 'imagenet', numParams: 60192808, metricsPercent: { 'acc@1': 82.284, 'acc@5': 96.002 } },
  'wide_resnet50_2.IMAGENET1K_V1': { fileName: 'wide_resnet50_2-95faca4d.pth', categories: 'imagenet', numParams: 68883240, metricsPercent: { 'acc@1': 78.468, 'acc@5': 94.086 } },
  'wide_resnet50_2.IMAGENET1K_V2': { fileName: 'wide_resnet50_2-9ba9bcbe.pth', categories: 'imagenet', numParams: 68883240, metricsPercent: { 'acc@1': 81.602, 'acc@5': 95.758 } },
  'wide_resnet101_2.IMAGENET1K_V1': { fileName: 'wide_resnet101_2-32ee1156.pth', categories: 'imagenet', numParams: 126886696, metricsPercent: { 'acc@1': 78.848, 'acc@5': 94.284 } },
  'wide_resnet101_2.IMAGENET1K_V2': { fileName: 'wide_resnet101_2-d733dc28.pth', categories: 'imagenet', numParams: 126886696, metricsPercent: { 'acc@1': 82.51, 'acc@5': 96.02 } },
  'resnext50_32x4d.IMAGENET1K_V1': { fileName: 'resnext50_32x4d-7cdf4587.pth', categories: 'imagenet', numParams: 25028904, metricsPercent: { 'acc@1': 77.618, 'acc@5': 93.698 } },
  'resnext50_32x4d.IMAGENET1K_V2': { fileName: 'resnext50_32x4d-1a0047aa.pth', categories: 'imagenet', numParams: 25028904, metricsPercent: { 'acc@1': 81.198, 'acc@5': 95.34 } },
  'resnext101_32x8d.IMAGENET1K_V1': { fileName: 'resnext101_32x8d-8ba56ff5.pth', categories: 'imagenet', numParams: 88791336, metricsPercent: { 'acc@1': 79.312, 'acc@5': 94.526 } },
  'resnext101_32x8d.IMAGENET1K_V2': { fileName: 'resnext101_32x8d-110c445d.pth', categories: 'imagenet', numParams: 88791336, metricsPercent: { 'acc@1': 82.834, 'acc@5': 96.228 } },
  'resnext101_64x4d.IMAGENET1K_V1': { fileName: 'resnext101_64x4d-173b62eb.pth', categories: 'imagenet', numParams: 83455272, metricsPercent: { 'acc@1': 83.246, 'acc@5': 96.454 } },
  'retinanet_resnet50_fpn.COCO_V1': { fileName: 'retinanet_resnet50_fpn_coco-eeacb38b.pth', categories: 'coco', numParams: 34014999, metricsPercent: { 'box_map': 36.4 } },
  'fasterrcnn_resnet50_fpn.COCO_V1': { fileName: 'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth', categories: 'coco', numParams: 41755286, metricsPercent: { 'box_map': 37.0 } },
  'fcn_resnet50.COCO_WITH_VOC_LABELS_V1': { fileName: 'fcn_resnet50_coco-1167a1af.pth', categories: 'voc', numParams: 35322218, metricsPercent: { 'miou': 60.5, 'pixel_acc': 91.4 } },
  'fcn_resnet101.COCO_WITH_VOC_LABELS_V1': { fileName: 'fcn_resnet101_coco-7ecb50ca.pth', categories: 'voc', numParams: 54314346, metricsPercent: { 'miou': 63.7, 'pixel_acc': 91.9 } },
  'deeplabv3_resnet50.COCO_WITH_VOC_LABELS_V1': { fileName: 'deeplabv3_resnet50_coco-cd0a2569.pth', categories: 'voc', numParams: 42004074, metricsPercent: { 'miou': 66.4, 'pixel_acc': 92.4 } },
  'deeplabv3_resnet101.COCO_WITH_VOC_LABELS_V1': { fileName: 'deeplabv3_resnet101_coco-586e9e4e.pth', categories: 'voc', numParams: 60996202, metricsPercent: { 'miou': 67.4, 'pixel_acc': 92.4 } },
} as const satisfies Record<string, TorchvisionWeightsEntry>;

/** A known weights name, e.g. `'resnet50.IMAGENET1K_V2'`. */
export type TorchvisionWeightsName = keyof typeof TORCHVISION_WEIGHTS;

/** torchvision builders with published weights. */
export type TorchvisionModelName = TorchvisionWeightsName extends `${infer M}.${string}` ? M : never;

/** What `<Weights>.DEFAULT` stands for, per builder (torchvision: the best weights published). */
export const TORCHVISION_DEFAULT_WEIGHTS = {
  resnet18: 'IMAGENET1K_V1',
  resnet34: 'IMAGENET1K_V1',
  resnet50: 'IMAGENET1K_V2',
  resnet101: 'IMAGENET1K_V2',
  resnet152: 'IMAGENET1K_V2',
  wide_resnet50_2: 'IMAGENET1K_V2',
  wide_resnet101_2: 'IMAGENET1K_V2',
  resnext50_32x4d: 'IMAGENET1K_V2',
  resnext101_32x8d: 'IMAGENET1K_V2',
  resnext101_64x4d: 'IMAGENET1K_V1',
  retinanet_resnet50_fpn: 'COCO_V1',
  fasterrcnn_resnet50_fpn: 'COCO_V1',
  fcn_resnet50: 'COCO_WITH_VOC_LABELS_V1',
  fcn_resnet101: 'COCO_WITH_VOC_LABELS_V1',
  deeplabv3_resnet50: 'COCO_WITH_VOC_LABELS_V1',
  deeplabv3_resnet101: 'COCO_WITH_VOC_LABELS_V1',
} as const satisfies Record<TorchvisionModelName, string>;
