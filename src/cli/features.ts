/** `resvision features`: pooled backbone embeddings for a folder of images (.npy + JSON index). */
import { Command } from 'commander';
import { BACKBONE_NAMES } from '../backbone/names';
import { parsePositiveInteger, startBackend } from './common';
import { addInferenceEngineOptions, requireOnnxRuntime, type InferenceEngineOptions } from './inference_engine_option';

export function registerFeatures(program: Command): void {
  addInferenceEngineOptions(program
    .command('features'))
    .description('write pooled embeddings [N, C] float32 (.npy, readable by numpy.load) and a JSON index of the images')
    .requiredOption('--model <name>', `backbone: ${BACKBONE_NAMES.join(', ')}`)
    .option('--weights <file>', 'torchvision/timm weights: a .safetensors or .pth file, torchvision:<model>[.<weights>], or an https:// URL (default: random initialization)')
    .requiredOption('--images <dir>', 'folder searched recursively for images')
    .requiredOption('--out <file.npy>', 'output array; the index is written next to it as .json')
    .option('--resize <px>', 'shorter side before the center crop', parsePositiveInteger, 256)
    .option('--crop <px>', 'center crop side', parsePositiveInteger, 224)
    .option('--batch-size <n>', 'images per forward pass', parsePositiveInteger, 8)
    .option('--non-strict', 'load weights that do not fit exactly, listing missing and unexpected tensors')
    .option('--quiet', 'no progress bar')
    .action(async (o: { model: string; weights?: string; images: string; out: string; resize: number; crop: number; batchSize: number; nonStrict?: boolean; quiet?: boolean } & InferenceEngineOptions) => {
      if (!BACKBONE_NAMES.includes(o.model as never)) {
        throw new Error(`unknown model '${o.model}': expected one of ${BACKBONE_NAMES.join(', ')}`);
      }
      if (o.onnx !== undefined && o.weights !== undefined) throw new Error('resvision features: give --onnx FILE or --weights, not both');
      await requireOnnxRuntime(o, { quiet: o.quiet });
      if (!o.weights && o.onnx === undefined) process.stderr.write('warning: no --weights given, the embeddings come from a randomly initialized network\n');
      await startBackend(program);
      const { extractFeatures } = require('../tasks/features') as typeof import('../tasks/features');
      const r = await extractFeatures({
        model: o.model,
        weights: o.weights ?? null,
        images: o.images,
        out: o.out,
        resizeSize: o.resize,
        cropSize: o.crop,
        batchSize: o.batchSize,
        strict: !o.nonStrict,
        quiet: o.quiet,
        engine: o.engine,
        onnx: o.onnx,
      });
      process.stdout.write(`wrote ${r.count} x ${r.dim} embeddings to ${r.npyFile} and the index to ${r.indexFile}\n`);
    });
}
