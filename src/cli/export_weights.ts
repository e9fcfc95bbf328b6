/** `resvision export-weights CHECKPOINT --format torchvision --out FILE`: weights torchvision can load. */
import { Command, Option } from 'commander';
import { startBackend } from './common';

export function registerExportWeights(program: Command): void {
  program
    .command('export-weights')
    .description('write a checkpoint as weights for the reference implementation (torchvision state dict, .safetensors)')
    .argument('<checkpoint>', 'checkpoint written by `resvision train`')
    .addOption(new Option('--format <name>', 'target naming and layout').choices(['torchvision']).default('torchvision'))
    .requiredOption('--out <file>', 'output .safetensors file')
    .action(async (checkpoint: string, o: { out: string }) => {
      await startBackend(program, { quiet: true });
      const { exportCheckpointToTorchvision } = require('../export/torchvision_checkpoint') as typeof import('../export/torchvision_checkpoint');
      const r = await exportCheckpointToTorchvision(checkpoint, o.out);
      process.stdout.write(
        `wrote ${o.out} (${r.tensors} tensors plus num_batches_tracked; load in Python with ` +
          `safetensors.torch.load_file and model.load_state_dict)\n`,
      );
    });
}
