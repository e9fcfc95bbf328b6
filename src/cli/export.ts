/** `resvision export CHECKPOINT --format onnx --out FILE`: the checkpoint's model as an ONNX graph. */
import { Command, Option } from 'commander';
import { startBackend } from './common';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a checkpoint\'s model as ONNX (opset 17; input "images" [N, 3, H, W] normalized RGB, dynamic N, H, W)')
    .argument('<checkpoint>', 'checkpoint written by `resvision train`')
    .addOption(new Option('--format <name>', 'model format').choices(['onnx']).default('onnx'))
    .requiredOption('--out <file>', 'output .onnx file')
    .option('--features', 'classification checkpoints: export the backbone as a feature extractor (C2..C5 and pooled) instead of the classifier')
    .action(async (checkpoint: string, o: { out: string; features?: boolean }) => {
      await startBackend(program, { quiet: true });
      const { exportCheckpointToOnnx } = require('../export/onnx/checkpoint') as typeof import('../export/onnx/checkpoint');
      const r = await exportCheckpointToOnnx(checkpoint, o.out, { features: o.features });
      const outs = r.outputs.map((v) => `${v.name} [${v.shape.join(', ')}]`).join(', ');
      process.stdout.write(`wrote ${o.out} (${r.numNodes} nodes, ${r.classes.length} class${r.classes.length === 1 ? '' : 'es'}; outputs ${outs})\n`);
    });
}
