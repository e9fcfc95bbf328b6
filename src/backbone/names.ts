/**
 * The torchvision names of the backbones, apart from their builders (`./resnet.ts`, whose `BACKBONES` table must
 * have exactly these keys: a type check there holds it), so that configs and the command line can name them without
 * loading the tensor library.
 */
export const BACKBONE_NAMES = [
  'resnet18',
  'resnet34',
  'resnet50',
  'resnet101',
  'resnet152',
  'wide_resnet50_2',
  'wide_resnet101_2',
  'resnext50_32x4d',
  'resnext101_32x8d',
] as const;

/** A backbone name accepted by configs and the CLI. */
export type BackboneName = (typeof BACKBONE_NAMES)[number];
