/**
 * `--engine tfjs|onnx` and `--onnx FILE` of `predict`, `eval` and `features`: which library runs the model. With
 * `onnx` the model (from a checkpoint or weights) is exported in memory and run by ONNX Runtime; `--onnx` runs a
 * file written by `resvision export`. Everything else the command does is unchanged.
 */
import { Option, type Command } from 'commander';
import type { InferenceEngine } from '../export/onnx/task_models';
import type { ModelSource } from '../tasks/task';
import { modelSourceOf } from './common';

/** The options as commander stores them. */
export interface InferenceEngineOptions {
  engine?: InferenceEngine;
  onnx?: string;
}

/** Add `--engine` and `--onnx` to a command. */
export function addInferenceEngineOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--engine <name>', 'what runs the model: tfjs (the backend), or onnx (ONNX Runtime on the CPU: the model exported in memory; needs onnxruntime-node)')
        .choices(['tfjs', 'onnx'])
        .default('tfjs'),
    )
    .option('--onnx <file>', 'instead of a checkpoint or weights: an .onnx file written by `resvision export` (run by ONNX Runtime; class names from its metadata)');
}

/**
 * Fail at once, in one line, when ONNX Runtime is asked for and `onnxruntime-node` is not installed (before any
 * model is loaded).
 */
export async function requireOnnxRuntime(o: InferenceEngineOptions, opts: { quiet?: boolean } = {}): Promise<void> {
  if (o.engine !== 'onnx' && o.onnx === undefined) return;
  const { loadOnnxRuntime } = require('../engine/onnx_runtime') as typeof import('../engine/onnx_runtime');
  await loadOnnxRuntime();
  // Said before the backend line, which would otherwise read as if tfjs ran the model.
  if (!opts.quiet) {
    const { version } = require('onnxruntime-node/package.json') as { version: string };
    process.stderr.write(`engine: ONNX Runtime (onnxruntime-node ${version}, CPU, 1 thread) runs the model; the backend below does the pre- and post-processing\n`);
  }
}

/**
 * The model source of `eval` (and `predict CONFIG ...`): `--onnx FILE`, or `--checkpoint`/`--weights` on the engine
 * `--engine` names (`--onnx` runs in ONNX Runtime whatever `--engine` says).
 * @throws Error naming `where` when `--onnx` comes with `--checkpoint` or `--weights`, when none of the sources is
 *   given, or (asked for ONNX Runtime) when onnxruntime-node is absent.
 */
export async function engineModelSource(o: InferenceEngineOptions & { checkpoint?: string; weights?: string }, where: string, opts: { quiet?: boolean } = {}): Promise<ModelSource> {
  if (o.onnx !== undefined) {
    if (o.checkpoint !== undefined || o.weights !== undefined) throw new Error(`${where}: give --onnx FILE or --checkpoint/--weights, not both`);
    await requireOnnxRuntime(o, opts);
    return { onnx: o.onnx };
  }
  const source = modelSourceOf(o, where);
  await requireOnnxRuntime(o, opts);
  return o.engine === 'onnx' ? { ...source, engine: 'onnx' } : source;
}
