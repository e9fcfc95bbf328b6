/**
 * Export of a training checkpoint as a torchvision state dict (Node): the model is rebuilt from the config stored in
 * the checkpoint through the architecture table, restored, and written with torchvision's names and layouts.
 */
import * as fs from 'fs';
import { loadCheckpoint, restoreModel } from '../engine/checkpoint';
import type { TrainingCheckpointMeta } from '../engine/trainer';
import { architecture } from '../tasks/models';
import { storedTaskConfig } from '../tasks/harness';
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
    const { config: cfg, classes } = storedTaskConfig(checkpointFile, ckpt.meta);
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
