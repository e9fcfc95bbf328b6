/** Weight files: safetensors, torch.save archives, torchvision name maps, hash initialization for parity tests. */
export { DTYPE_BYTES, WEIGHT_DTYPES, decodeFloat32, decodeInt32, isFloatDtype, numElements } from './dtypes';
export type { HostTensor, WeightDtype } from './dtypes';
export { MAX_HEADER_BYTES, SafetensorsFile, writeSafetensors } from './safetensors';
export type { SafetensorsEntry, SafetensorsTensorInfo } from './safetensors';
export { TorchArchive, NESTED_STATE_DICT_KEYS } from './pth';
export { TORCH_STORAGE_DTYPES, allowedGlobals, unpickle } from './torch_pickle';
export type { TorchStorageRef, TorchTensorRef, UnpickleOptions } from './torch_pickle';
export { openWeightSource } from './weight_file';
export type { WeightSource } from './weight_file';
export {
  NAME_TABLES,
  RESNET_NAME_TABLE,
  batchNormPaths,
  exportTorchvisionWeights,
  loadTorchvisionWeights,
  torchShape,
  torchStateSpec,
} from './torchvision';
export type {
  ExportTorchvisionOptions,
  LoadTorchvisionOptions,
  NameTable,
  TensorLayout,
  WeightFamily,
  WeightLoadReport,
} from './torchvision';
export { float32Checksum, fmix32, fnv1a32, hashStateBytes, hashTensorValues, hashUniform } from './hash_init';
export { CATEGORIES, COCO_CATEGORIES, IMAGENET_CATEGORIES, VOC_CATEGORIES } from './categories';
export type { CategorySet } from './categories';
export { TORCHVISION_BASE_URL, TORCHVISION_DEFAULT_WEIGHTS, TORCHVISION_WEIGHTS } from './torchvision_hub';
export type { TorchvisionModelName, TorchvisionWeightsEntry, TorchvisionWeightsName } from './torchvision_hub';
export { isRemoteWeightsSpec, resolveWeights, resvisionHome, torchvisionWeightsName } from './download';
export type { ResolvedWeights, WeightsFetchOptions } from './download';
