/**
 * `resvision merge PARTS|DIRS... [--out DIR]`: combine the parts of an evaluation run in shards
 * (`resvision eval --shard k/N --out DIR`) into the report of one run, or the parts of a prediction run in shards
 * (`resvision predict --shard k/N --out DIR`) into the JSON of one `predict --json` run. No tensor library is loaded.
 */
import { Command } from 'commander';

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('combine the parts of `eval --shard k/N` runs into the report of one run, or of `predict --shard k/N` runs into the JSON of one `predict --json` run (bit for bit)')
    .argument('<parts...>', 'part files (eval-part-<k>-of-<N>.json or predict-part-<k>-of-<N>.json), or folders holding them')
    .option('--out <dir>', 'detection: also write the COCO results JSON (VOC data: and the ground truth as COCO), as `eval --out` does; of predict parts, detections.json, as `predict --out` does')
    .action(async (parts: string[], o: { out?: string }) => {
      const { mergeParts } = require('../tasks/shards') as typeof import('../tasks/shards');
      const { stderrLog } = require('../common/log') as typeof import('../common/log');
      process.stdout.write(`${await mergeParts(parts, { outDir: o.out, log: stderrLog })}\n`);
    });
}
