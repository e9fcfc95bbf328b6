/**
 * `resvision predict CONFIG IMAGES... --checkpoint FILE | --weights FILE|NAME|URL`: predictions for image files, from
 * a trained model or a torchvision state dict of the whole model.
 */
import { Command } from 'commander';
import { modelSourceOf, startBackend } from './common';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict images with a trained checkpoint (classification: top-5; detection: boxes; segmentation: masks)')
    .argument('<config>', 'JSON config file')
    .argument('<images...>', 'image files')
    .option('--checkpoint <file>', 'checkpoint written by `resvision train`')
    .option('--weights <file|name|url>', "instead of --checkpoint: a torchvision state dict of the whole model (e.g. torchvision:resnet50.IMAGENET1K_V2); K and the class names from the file")
    .option('--out <dir>', 'write pictures and prediction files to this folder')
    .option('--json', 'print JSON instead of text')
    .option('--score-thresh <t>', 'detection: keep boxes with score >= t (default: predict.scoreThresh of the config)')
    .action(async (configFile: string, images: string[], o: { checkpoint?: string; weights?: string; out?: string; json?: boolean; scoreThresh?: string }) => {
      const { loadConfig } = require('../config/load') as typeof import('../config/load');
      const { taskRunner } = require('../tasks') as typeof import('../tasks');
      const source = modelSourceOf(o, 'resvision predict');
      const cfg = loadConfig(configFile);
      if (o.scoreThresh !== undefined) {
        const t = Number(o.scoreThresh);
        if (cfg.task !== 'detection') throw new Error(`--score-thresh applies to detection configs; ${configFile} is a ${cfg.task} config`);
        if (!(t >= 0 && t <= 1)) throw new Error(`--score-thresh: expected a number in [0, 1], got '${o.scoreThresh}'`);
        cfg.predict = { ...cfg.predict, scoreThresh: t };
      }
      await startBackend(program, { quiet: o.json });
      process.stdout.write(`${await taskRunner(cfg).predict(cfg, source, images, { outDir: o.out, json: o.json })}\n`);
    });
}
