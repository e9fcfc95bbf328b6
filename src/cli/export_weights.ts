/** `resvision export-weights CHECKPOINT --format torchvision --out FILE`: weights torchvision can load. */
import { Command, Option } from 'commander';
import * as fs from 'fs';
import { validateConfig } from '../config/load';
import { loadCheckpoint, restoreModel } from '../engine/checkpoint';
import type { TrainingCheckpointMeta } from '../engine/trainer';
import type { ClassificationRunConfig } from '../tasks/classification';
import type { DetectionRunConfig } from '../tasks/detection';
import { architecture } from '../tasks/models';
import type { SegmentationRunConfig } from '../tasks/segmentation';
import { exportTorchvisionWeights } from '../weights/torchvision';

/**
 * Rebuild the model stored in a training checkpoint (from the config in its metadata) and write it as a
 * torchvision state dict in safetensors format (`torchvision.models.<name>().load_state_dict(...)` accepts it).
 * @throws Error naming the file when it is not a training checkpoint (no stored config) or its config does not validate.
 */
export async function exportCheckpointToTorchvision(checkpointFile: string, out: string): Promise<{ tensors: number }> {
  if (!fs.existsSync(checkpointFile)) throw new Error(`checkpoint not found: ${checkpointFile}`);
  const ckpt = await loadCheckpoint<TrainingCheckpointMeta>(checkpointFile);
  try {
    const stored = ckpt.meta.config as ClassificationRunConfig | DetectionRunConfig | SegmentationRunConfig | undefined;
    if (!stored || typeof stored !== 'object' || !('task' in stored)) {
      throw new Error(`${checkpointFile}: no config in the checkpoint metadata; cannot rebuild its model`);
    }
    const { classes, ...rest } = stored;
    const cfgOnly: Record<string, unknown> = { ...rest };
    delete cfgOnly.categoryIds;
    const cfg = validateConfig(cfgOnly, `${checkpointFile} (stored config)`);
    const model = architecture(cfg).build(cfg, classes.length);
    try {
      await restoreModel(model, ckpt, { strict: true });
      await exportTorchvisionWeights(model, out);
      return { tensors: model.stateEntries().length };
    } finally {
      model.dispose();
    }
  } finally {
    await ckpt.close();
  }
}

export function registerExportWeights(program: Command): void {
  program
    .command('export-weights')
    .description('write a checkpoint as weights for the reference implementation (torchvision state dict, .safetensors)')
    .argument('<checkpoint>', 'checkpoint written by `resvision train`')
    .addOption(new Option('--format <name>', 'target naming and layout').choices(['torchvision']).default('torchvision'))
    .requiredOption('--out <file>', 'output .safetensors file')
    .action(async (checkpoint: string, o: { out: string }) => {
      const r = await exportCheckpointToTorchvision(checkpoint, o.out);
      process.stdout.write(
        `wrote ${o.out} (${r.tensors} tensors plus num_batches_tracked; load in Python with ` +
          `safetensors.torch.load_file and model.load_state_dict)\n`,
      );
    });
}
