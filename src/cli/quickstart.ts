/** `resvision quickstart`: train, evaluate and draw a small detector on the example data, in a few minutes on a CPU. */
import { Command } from 'commander';
import type { EngineOptions } from './common';
import { parsePositiveInteger } from './common';

export function registerQuickstart(program: Command): void {
  program
    .command('quickstart')
    .description('train a ResNet-18 RetinaNet on the bundled blood-cell images, evaluate COCO mAP, draw a prediction and the training curves')
    .option('--output-dir <dir>', 'run folder (default runs/quickstart); a finished run there is evaluated again, an interrupted one resumed')
    .option('--max-iter <n>', 'a shorter run (default: the config\'s 150 iterations)', parsePositiveInteger)
    .option('--weights <file>', 'ImageNet ResNet-18 weights (torchvision names, .pth or .safetensors) to start from')
    .option('--quiet', 'no progress bar')
    .action(async (o: { outputDir?: string; maxIter?: number; weights?: string; quiet?: boolean }) => {
      const { runQuickstart } = require('../tasks/quickstart') as typeof import('../tasks/quickstart');
      const engine = program.opts<EngineOptions>();
      const r = await runQuickstart({ ...o, backend: engine.backend, threads: engine.threads });
      if (r.status === 'interrupted') process.exitCode = 130;
    });
}
