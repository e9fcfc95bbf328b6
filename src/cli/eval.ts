/**
 * `resvision eval CONFIG --checkpoint FILE | --weights FILE|NAME|URL`: evaluate a trained model, or a torchvision
 * state dict of the whole model, on the config's validation split.
 */
import { Command } from 'commander';
import { formatShard, type Shard } from '../common/shard';
import { addSetOption, parseShardOption, startBackend } from './common';
import { addInferenceEngineOptions, engineModelSource, type InferenceEngineOptions } from './inference_engine_option';

export function registerEval(program: Command): void {
  addInferenceEngineOptions(addSetOption(program
    .command('eval')))
    .description("evaluate a checkpoint on the config's validation split with the task's metric")
    .argument('<config>', 'JSON config file')
    .option('--checkpoint <file>', 'checkpoint written by `resvision train`')
    .option('--weights <file|name|url>', 'instead of --checkpoint: a torchvision state dict of the whole model (e.g. torchvision:retinanet_resnet50_fpn.COCO_V1); K from the file, detections mapped onto the split by COCO category id (VOC data: by name)')
    .option('--data <root>', 'override data.root')
    .option('--split <name>', 'override data.valSplit')
    .option('--out <dir>', 'also write the predictions (detection: COCO results JSON; segmentation: PNG masks)')
    .option('--shard <k/N>', 'evaluate only images i with i mod N = k of the split and write the part to --out DIR (eval-part-<k>-of-<N>.json) for `resvision merge`', parseShardOption)
    .option('--quiet', 'no progress bar')
    .action(async (configFile: string, o: { checkpoint?: string; weights?: string; data?: string; split?: string; out?: string; quiet?: boolean; set?: string[]; shard?: Shard } & InferenceEngineOptions) => {
      const { loadConfig } = require('../config/load') as typeof import('../config/load');
      const { taskRunner } = require('../tasks') as typeof import('../tasks');
      if (o.shard && o.out === undefined) throw new Error(`resvision eval --shard ${formatShard(o.shard)}: give --out DIR, the folder the part is written to`);
      const source = await engineModelSource(o, 'resvision eval', { quiet: o.quiet });
      const cfg = loadConfig(configFile, o.set);
      if (o.data) cfg.data.root = o.data;
      if (o.split) cfg.data.valSplit = o.split;
      await startBackend(program);
      process.stdout.write(`${await taskRunner(cfg).evaluate(cfg, source, { quiet: o.quiet, outDir: o.out, shard: o.shard })}\n`);
    });
}
