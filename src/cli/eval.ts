/** `resvision eval CONFIG --checkpoint FILE`: evaluate a trained model on the config's validation split. */
import { Command } from 'commander';
import * as path from 'path';
import { loadConfig } from '../config/load';
import { evaluateOnFolder, formatClassificationMetrics, loadClassifierCheckpoint } from '../tasks/classification';
import { startBackend } from './common';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description("evaluate a checkpoint on the config's validation split (classification: top-1/top-5, per class, confusion)")
    .argument('<config>', 'JSON config file')
    .requiredOption('--checkpoint <file>', 'checkpoint written by `resvision train`')
    .option('--data <root>', 'override data.root')
    .option('--split <name>', 'override data.valSplit')
    .option('--quiet', 'no progress bar')
    .action(async (configFile: string, o: { checkpoint: string; data?: string; split?: string; quiet?: boolean }) => {
      const cfg = loadConfig(configFile);
      if (o.data) cfg.data.root = o.data;
      if (o.split) cfg.data.valSplit = o.split;
      await startBackend(program);
      const { model, classes } = await loadClassifierCheckpoint(cfg, o.checkpoint);
      try {
        const m = await evaluateOnFolder(model, cfg, path.join(cfg.data.root, cfg.data.valSplit), classes, { quiet: o.quiet });
        process.stdout.write(`${formatClassificationMetrics(m, classes)}\n`);
      } finally {
        model.dispose();
      }
    });
}
