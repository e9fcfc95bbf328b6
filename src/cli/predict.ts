/**
 * `resvision predict [CONFIG] CHECKPOINT|--weights W IMAGES|FOLDERS...`: predictions for image files, from a trained
 * model (its config read from the checkpoint, or given) or a torchvision state dict of the whole model.
 */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import type { Config } from '../config/types';
import { formatShard, type Shard } from '../common/shard';
import type { ModelSource } from '../tasks/task';
import { addSetOption, parseShardOption, startBackend } from './common';
import { addInferenceEngineOptions, engineModelSource, requireOnnxRuntime, type InferenceEngineOptions } from './inference_engine_option';

/**
 * The image files of `predict`'s arguments: files as given, folders searched recursively for images (torchvision's
 * `IMG_EXTENSIONS`), sorted, in argument order.
 * @throws Error naming a folder that holds no image.
 */
export async function expandImageArguments(args: readonly string[]): Promise<string[]> {
  const { IMG_EXTENSIONS } = require('../../datasets/image_folder/image_folder') as typeof import('../../datasets/image_folder/image_folder');
  const fg = require('fast-glob') as typeof import('fast-glob');
  const out: string[] = [];
  for (const a of args) {
    if (!fs.existsSync(a) || !fs.statSync(a).isDirectory()) {
      out.push(a); // a missing file is told by the task, naming it
      continue;
    }
    const found = (await fg.glob('**/*', { cwd: a, onlyFiles: true, caseSensitiveMatch: false }))
      .filter((f) => IMG_EXTENSIONS.includes(path.extname(f).toLowerCase()))
      .sort()
      .map((f) => path.join(a, f));
    if (found.length === 0) throw new Error(`predict: the folder ${a} holds no image (${IMG_EXTENSIONS.join(' ')})`);
    out.push(...found);
  }
  return out;
}

export function registerPredict(program: Command): void {
  addInferenceEngineOptions(addSetOption(program
    .command('predict')))
    .description('predict images with a trained checkpoint (classification: top-5; detection: boxes; segmentation: masks)')
    .argument('<config|checkpoint>', 'JSON config file, or a checkpoint written by `resvision train`, or an .onnx file written by `resvision export` (its stored config is used)')
    .argument('<images...>', 'image files and folders (searched recursively for images)')
    .option('--checkpoint <file>', 'checkpoint written by `resvision train` (with a config as the first argument)')
    .option('--weights <file|name|url>', "instead of --checkpoint: a torchvision state dict of the whole model (e.g. torchvision:resnet50.IMAGENET1K_V2); K and the class names from the file")
    .option('--out <dir>', 'write pictures and prediction files to this folder')
    .option('--json', 'print JSON instead of text')
    .option('--score-thresh <t>', 'detection: keep boxes with score >= t (default: predict.scoreThresh of the config)')
    .option('--shard <k/N>', 'predict only images i with i mod N = k of the (expanded, sorted) image list and write their predictions to --out DIR (predict-part-<k>-of-<N>.json) for `resvision merge`', parseShardOption)
    .action(async (first: string, args: string[], o: { checkpoint?: string; weights?: string; out?: string; json?: boolean; scoreThresh?: string; set?: string[]; shard?: Shard } & InferenceEngineOptions) => {
      const { loadConfig, applyOverride, validateConfig } = require('../config/load') as typeof import('../config/load');
      const { taskRunner } = require('../tasks') as typeof import('../tasks');
      if (o.shard && o.out === undefined) throw new Error(`resvision predict --shard ${formatShard(o.shard)}: give --out DIR, the folder the part is written to`);
      let cfg: Config;
      let source: ModelSource;
      let configName = first;
      if (first.toLowerCase().endsWith('.json')) {
        source = await engineModelSource(o, 'resvision predict', { quiet: o.json });
        cfg = loadConfig(first, o.set);
      } else if (first.toLowerCase().endsWith('.onnx')) {
        if (o.checkpoint !== undefined || o.weights !== undefined || o.onnx !== undefined) {
          throw new Error(`resvision predict: ${first} is an ONNX model; with --checkpoint, --weights or --onnx the first argument is the config`);
        }
        await requireOnnxRuntime({ onnx: first }, { quiet: o.json });
        const { readOnnxFile } = require('../export/onnx/task_models') as typeof import('../export/onnx/task_models');
        const raw = readOnnxFile(first, ['classifier', 'retinanet', 'segmentation']).config;
        for (const s of o.set ?? []) applyOverride(raw, s);
        cfg = validateConfig(raw, `${first} (stored config)${o.set?.length ? ` with --set ${o.set.join(' ')}` : ''}`);
        source = { onnx: first };
        configName = `${first} (stored config)`;
      } else {
        if (o.checkpoint !== undefined || o.weights !== undefined) {
          throw new Error(`resvision predict: ${first} is not a .json config; with --checkpoint or --weights the first argument is the config`);
        }
        if (o.onnx !== undefined) throw new Error(`resvision predict: ${first} is not a .json config; with --onnx the first argument is the config`);
        await requireOnnxRuntime(o, { quiet: o.json });
        const { loadCheckpoint } = require('../engine/checkpoint') as typeof import('../engine/checkpoint');
        const { storedTaskConfig } = require('../tasks/harness') as typeof import('../tasks/harness');
        const ckpt = await loadCheckpoint<import('../engine/trainer').TrainingCheckpointMeta>(first);
        let stored: Config;
        try {
          stored = storedTaskConfig(first, ckpt.meta).config;
        } finally {
          await ckpt.close();
        }
        if (o.set?.length) {
          const raw = JSON.parse(JSON.stringify(stored)) as unknown;
          for (const s of o.set) applyOverride(raw, s);
          stored = validateConfig(raw, `${first} (stored config) with --set ${o.set.join(' ')}`);
        }
        cfg = stored;
        source = o.engine === 'onnx' ? { checkpoint: first, engine: 'onnx' } : { checkpoint: first };
        configName = `${first} (stored config)`;
      }
      if (o.scoreThresh !== undefined) {
        const t = Number(o.scoreThresh);
        if (cfg.task !== 'detection') throw new Error(`--score-thresh applies to detection configs; ${configName} is a ${cfg.task} config`);
        if (!(t >= 0 && t <= 1)) throw new Error(`--score-thresh: expected a number in [0, 1], got '${o.scoreThresh}'`);
        cfg.predict = { ...cfg.predict, scoreThresh: t };
      }
      const images = await expandImageArguments(args);
      await startBackend(program, { quiet: o.json });
      process.stdout.write(`${await taskRunner(cfg).predict(cfg, source, images, { outDir: o.out, json: o.json, shard: o.shard })}\n`);
    });
}
