/** `resvision predict CONFIG --checkpoint FILE IMAGES...`: top-5 classes with names and probabilities. */
import { Command } from 'commander';
import { loadConfig } from '../config/load';
import { loadClassifierCheckpoint, predictClassification } from '../tasks/classification';
import { startBackend } from './common';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict images with a trained checkpoint (classification: top-5 with class names)')
    .argument('<config>', 'JSON config file')
    .argument('<images...>', 'image files')
    .requiredOption('--checkpoint <file>', 'checkpoint written by `resvision train`')
    .option('--json', 'print JSON instead of text')
    .action(async (configFile: string, images: string[], o: { checkpoint: string; json?: boolean }) => {
      const cfg = loadConfig(configFile);
      await startBackend(program, { quiet: o.json });
      const { model, classes } = await loadClassifierCheckpoint(cfg, o.checkpoint);
      try {
        const preds = await predictClassification(model, cfg, classes, images);
        if (o.json) {
          process.stdout.write(`${JSON.stringify(preds, null, 2)}\n`);
          return;
        }
        for (const p of preds) {
          process.stdout.write(`${p.file}\n`);
          for (const t of p.top) process.stdout.write(`  ${(100 * t.probability).toFixed(2).padStart(6)}%  ${t.className}\n`);
        }
      } finally {
        model.dispose();
      }
    });
}
