/** `resvision predict CONFIG --checkpoint FILE IMAGES...`: predictions for image files. */
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { taskRunner } from '../tasks';
import { startBackend } from './common';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict images with a trained checkpoint (classification: top-5; detection: boxes; segmentation: masks)')
    .argument('<config>', 'JSON config file')
    .argument('<images...>', 'image files')
    .requiredOption('--checkpoint <file>', 'checkpoint written by `resvision train`')
    .option('--out <dir>', 'write pictures and prediction files to this folder')
    .option('--json', 'print JSON instead of text')
    .action(async (configFile: string, images: string[], o: { checkpoint: string; out?: string; json?: boolean }) => {
      const cfg = loadConfig(configFile);
      await startBackend(program, { quiet: o.json });
      process.stdout.write(`${await taskRunner(cfg).predict(cfg, o.checkpoint, images, { outDir: o.out, json: o.json })}\n`);
    });
}
