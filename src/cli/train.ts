/** `resvision train CONFIG`: train the model a config describes. */
import { Command } from 'commander';
import { addSetOption, checkOutputPath, parsePositiveInteger, startBackend } from './common';
import { resolveConfigWeights } from './weights_option';

export function registerTrain(program: Command): void {
  addSetOption(program
    .command('train'))
    .description('train the model described by a config (configs/<task>/*.json)')
    .argument('<config>', 'JSON config file')
    .option('--resume [checkpoint]', 'continue from a checkpoint (default: <outputDir>/last_checkpoint)')
    .option('--data <root>', 'override data.root')
    .option('--weights <file>', 'override model.weights: a .safetensors or .pth file, torchvision:<model>[.<weights>], or an https:// URL')
    .option('--output-dir <dir>', 'override train.outputDir')
    .option('--max-iter <n>', 'override schedule.maxIter', parsePositiveInteger)
    .option('--no-eval', 'no evaluation during training nor after the last step (train.evalEvery 0; segmentation: train.evalAtEnd false)')
    .option('--quiet', 'no progress bar')
    .action(
      async (
        configFile: string,
        o: { resume?: string | boolean; data?: string; weights?: string; outputDir?: string; maxIter?: number; eval: boolean; quiet?: boolean; set?: string[] },
      ) => {
        const { loadConfig } = require('../config/load') as typeof import('../config/load');
        const { taskRunner } = require('../tasks') as typeof import('../tasks');
        const cfg = loadConfig(configFile, o.set);
        if (o.data) cfg.data.root = o.data;
        if (o.weights) cfg.model.weights = o.weights;
        await resolveConfigWeights(cfg.model, program);
        if (o.outputDir) cfg.train.outputDir = o.outputDir;
        else checkOutputPath(`train.outputDir of ${configFile}:`, cfg.train.outputDir, 'folder');
        if (o.maxIter !== undefined) cfg.schedule.maxIter = o.maxIter;
        if (!o.eval) {
          cfg.train.evalEvery = 0;
          if (cfg.task === 'segmentation') cfg.train.evalAtEnd = false;
        }
        await startBackend(program);
        // One line a person can read; the whole resolved config goes into every checkpoint's meta.
        const model = cfg.model.backbone.name;
        process.stderr.write(
          `config: ${configFile} (${cfg.task}, ${model}; data ${cfg.data.root}; ${cfg.schedule.maxIter} iterations of ` +
            `${cfg.train.batchSize} images; output ${cfg.train.outputDir}; the resolved config is stored in each checkpoint)\n`,
        );
        const t0 = performance.now();
        const r = await taskRunner(cfg).train(cfg, { resume: o.resume, quiet: o.quiet });
        const minutes = (performance.now() - t0) / 60000;
        if (r.report) process.stdout.write(`${r.report}\n`);
        process.stdout.write(
          `${r.status === 'completed' ? 'done' : 'interrupted'}: ${r.iterations} iterations in ${minutes.toFixed(1)} min; ` +
            `checkpoint ${r.lastCheckpoint ?? '(none)'}; log ${cfg.train.outputDir}/metrics.jsonl\n`,
        );
        if (r.status === 'interrupted') process.exitCode = 130;
      },
    );
}
