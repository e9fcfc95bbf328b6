/**
 * The `resvision` command line. Each subcommand lives in its own file and only parses arguments before calling
 * library functions. The subcommand files load the tensor library, image codecs and config validation inside their
 * actions (`require` there, typed with `typeof import`), so that `--help`, `--version` and the evaluators that
 * compute no tensor (`eval-coco`, `eval-seg`, `merge`, `check-data`, `convert`) start without them
 * (`scripts/bench/cold_start.ts` measures each command).
 */
import { Command, Option } from 'commander';
import { BACKEND_CHOICES } from '../engine/backend_choices';
import { packageVersion } from '../engine/package_info';
import { registerCheckData } from './check_data';
import { checkInputPaths, checkOutputPaths, formatCliError, oneLineArgumentErrors, registerEngineOptions } from './common';
import { registerConvert } from './convert';
import { registerDoctor } from './doctor';
import { registerEval } from './eval';
import { registerEvalCoco } from './eval_coco';
import { registerEvalSeg } from './eval_seg';
import { registerExport } from './export';
import { registerExportWeights } from './export_weights';
import { registerFeatures } from './features';
import { registerMerge } from './merge';
import { registerPlotCurves } from './plot_curves';
import { registerPredict } from './predict';
import { registerQuickstart } from './quickstart';
import { registerTrain } from './train';
import { resolveWeightsOption } from './weights_option';

/**
 * Build the command tree (exported for tests). Every input and output path a subcommand is given is checked before
 * its action runs ({@link checkInputPaths}, {@link checkOutputPaths}), and argument errors print one line naming the
 * `--help` to read.
 */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('resvision')
    .description('ResNet backbones, classification, detection and segmentation on TensorFlow.js, with COCO and VOC evaluators')
    .version(packageVersion())
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_CHOICES]).default('auto'))
    .option('--weights-mirror <url>', "base URL serving torchvision's weight files by name (default: RESVISION_WEIGHTS_MIRROR, else download.pytorch.org)")
    .hook('preAction', async (_program, action) => {
      await resolveWeightsOption(action);
      checkInputPaths(action);
      checkOutputPaths(action);
    });
  registerEngineOptions(program);
  registerTrain(program);
  registerEval(program);
  registerPredict(program);
  registerFeatures(program);
  registerMerge(program);
  registerEvalCoco(program);
  registerEvalSeg(program);
  registerExportWeights(program);
  registerExport(program);
  registerConvert(program);
  registerCheckData(program);
  registerPlotCurves(program);
  registerDoctor(program);
  registerQuickstart(program);
  oneLineArgumentErrors(program);
  for (const c of program.commands) oneLineArgumentErrors(c);
  return program;
}

/** Run the CLI with `argv` (process.argv shape). */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } finally {
    // Dawn keeps the process alive while a device exists. Only a command that loaded the WebGPU module can hold one.
    const webgpu = require.cache[require.resolve('../engine/webgpu')];
    if (webgpu) (webgpu.exports as typeof import('../engine/webgpu')).releaseWebGpu();
  }
}

/**
 * One line for a wasm trap: `memory access out of bounds` or `Aborted()` from tfjs-backend-wasm means a kernel failed
 * (most often an allocation past the 4 GB wasm heap) and carries no hint of what to change.
 */
export function explainWasmTrap(line: string): string {
  if (!/memory access out of bounds|Aborted\(\)/.test(line)) return line;
  return `${line} (a wasm kernel failed, most often because the 4 GB wasm heap ran out: lower train.batchSize or the ` +
    'image sizes of the config, e.g. data.trainShortEdge / data.trainMaxSize or data.trainCropSize)';
}

if (require.main === module) {
  const fail = (e: unknown): void => {
    const line = formatCliError(e);
    if (line) process.stderr.write(`${explainWasmTrap(line)}\n`);
    process.exit(1);
  };
  // A trap inside a wasm pool thread (threaded build) reaches the main thread as an uncaught exception, not as a
  // rejection of the running command: it too ends as one line.
  process.on('uncaughtException', fail);
  main(process.argv).catch(fail);
}
