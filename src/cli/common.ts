/**
 * Helpers shared by subcommands: backend start-up, checks of the input paths a command was given (before any
 * slow start-up, each with what to do), and the one-line form of every error the CLI prints.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { parseShard, type Shard } from '../common/shard';
import type { BackendChoice, BackendInfo } from '../engine/backend';
import type { ModelSource } from '../tasks/task';

/** The global engine options, as commander stores them. */
export interface EngineOptions {
  backend: BackendChoice;
  threads?: number;
  requireGpu?: boolean;
}

/**
 * Add the global options that choose how the backend computes, shared by every subcommand: `--threads N` (wasm
 * threads, default the cores available) and `--require-gpu` (fail at once unless the backend computes on a GPU).
 */
export function registerEngineOptions(program: Command): void {
  program
    .addOption(
      new Option('--threads <n>', 'CPU threads for the wasm backend (default: the cores available; `resvision doctor` shows the count)').argParser((v) => {
        const n = Number(v);
        if (!(Number.isInteger(n) && n >= 1)) throw new InvalidArgumentError('expected a positive integer');
        return n;
      }),
    )
    .option('--require-gpu', 'fail at once unless the selected backend computes on a GPU (tfjs-node-gpu, or WebGPU on a hardware adapter)');
}

/** Select the backend given by the global `--backend`, `--threads` and `--require-gpu` options and say which one runs, on stderr. */
export async function startBackend(program: Command, opts: { quiet?: boolean } = {}): Promise<BackendInfo> {
  const o = program.opts<EngineOptions>();
  // Loaded here, not at the top: the tensor library loads only for the commands that compute.
  const { selectBackend } = require('../engine/backend') as typeof import('../engine/backend');
  const info = await selectBackend(o.backend, { threads: o.threads, requireGpu: o.requireGpu });
  if (!opts.quiet) {
    process.stderr.write(`backend: ${describeBackend(info)}\n`);
    for (const n of backendNotices(info, o.threads)) process.stderr.write(`note: ${n}\n`);
  }
  return info;
}

/**
 * What a user should know about the backend that runs but the backend line does not say: WebGPU on a software
 * adapter (it computes on the CPU, slower than wasm), or fewer wasm threads than `--threads` asked for.
 */
export function backendNotices(info: BackendInfo, requestedThreads?: number): string[] {
  const notes: string[] = [];
  if (info.gpu != null && 'hardware' in info.gpu && !info.gpu.hardware) {
    notes.push(
      `WebGPU runs on ${info.gpu.name}, a software adapter that computes on the CPU and is slower than ` +
        "--backend wasm (about 40x for a ResNet-50 forward pass); --require-gpu refuses it",
    );
  }
  if (info.name === 'wasm' && requestedThreads !== undefined && info.threads < requestedThreads) {
    notes.push(`the wasm backend runs ${info.threads} threads, the most its threaded build starts (${requestedThreads} asked)`);
  }
  return notes;
}

/** `wasm (@tensorflow/tfjs-backend-wasm 4.22.0), 2 threads` or `webgpu (...), GPU: NAME (vulkan)`. */
export function describeBackend(info: BackendInfo): string {
  const where =
    info.gpu == null
      ? `${info.threads} thread${info.threads === 1 ? '' : 's'}`
      : 'backendType' in info.gpu
        ? `GPU: ${info.gpu.name} (${info.gpu.vendor}, ${info.gpu.backendType}${info.gpu.hardware ? '' : ', software'})`
        : 'GPU: CUDA';
  return `${info.name} (${info.packageName} ${info.version}), ${where}`;
}

/** What an input-path option must name, and what to do when it does not. */
interface InputPathRule {
  kind: 'file' | 'folder';
  /** What the path should be, told to the user after "not found". */
  hint: string;
}

/**
 * Input-path options of the subcommands, by option name (camelCase, as commander stores them). Output options
 * (`--out`, `--output-dir`) are not here: they are created.
 */
export const INPUT_PATH_OPTIONS: Readonly<Record<string, InputPathRule>> = {
  data: {
    kind: 'folder',
    hint: 'give the dataset root (VOC: Annotations/, JPEGImages/, ImageSets/Main/; COCO: annotations/ and the image folders; ImageFolder: one folder per class), e.g. --data examples/bccd',
  },
  weights: {
    kind: 'file',
    hint: 'give a torchvision/timm state dict (.pth or .safetensors), or a name such as torchvision:resnet50.IMAGENET1K_V2; the README section "Weights from PyTorch" shows how to save one',
  },
  checkpoint: {
    kind: 'file',
    hint: 'give a .safetensors checkpoint that `resvision train` wrote into its train.outputDir (e.g. runs/quickstart/model_0000150.safetensors)',
  },
  resume: { kind: 'file', hint: 'give a checkpoint of the run, or pass --resume alone to continue from <outputDir>/last_checkpoint' },
  images: { kind: 'folder', hint: 'give a folder of images (searched recursively)' },
  gt: { kind: 'folder', hint: 'give the folder of ground-truth label PNGs (VOC SegmentationClass)' },
  pred: { kind: 'folder', hint: 'give the folder of predicted label PNGs (what `resvision eval --out` writes)' },
  list: { kind: 'file', hint: 'give a list of image names, one a line (VOC ImageSets/Segmentation/val.txt), or leave --list out' },
  params: { kind: 'file', hint: 'give a JSON file of COCOeval parameters, or leave --params out' },
  config: { kind: 'file', hint: 'give a config file; the bundled ones are in configs/<task>/*.json' },
};

/** `"X"` or, for a relative path, `"X" (relative to CWD)`. */
function describePath(p: string): string {
  return path.isAbsolute(p) ? p : `${p} (relative to ${process.cwd()})`;
}

/**
 * Check that the input paths given to `command` exist and are of the right kind, before the backend starts.
 * @throws Error, one line: the option, the path, and what to give instead.
 */
export function checkInputPaths(command: Command): void {
  const opts = command.opts<Record<string, unknown>>();
  for (const [name, rule] of Object.entries(INPUT_PATH_OPTIONS)) {
    const v = opts[name];
    if (typeof v !== 'string') continue;
    const flag = `--${name}`;
    if (!fs.existsSync(v)) throw new Error(`${flag} ${describePath(v)}: ${rule.kind} not found; ${rule.hint}`);
    const isDir = fs.statSync(v).isDirectory();
    if (rule.kind === 'folder' && !isDir) throw new Error(`${flag} ${v}: is a file, expected a folder; ${rule.hint}`);
    if (rule.kind === 'file' && isDir) throw new Error(`${flag} ${v}: is a folder, expected a file; ${rule.hint}`);
  }
}

/**
 * The first existing ancestor of `p` (or `p` itself) that is not a folder, when creating `p` as a folder or a file
 * would fail on it (`ENOTDIR`); undefined when every existing ancestor is a folder.
 */
function fileInTheWay(p: string): string | undefined {
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    if (fs.existsSync(dir)) return fs.statSync(dir).isDirectory() ? undefined : dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * Check that an output path can be created: a folder (`kind` 'folder': `--out <dir>`, `--output-dir`,
 * `train.outputDir`) may exist as a folder or be creatable; a file may be replaced or created, but not be a folder.
 * @param what how the path was given, for the message (`--output-dir`, `train.outputDir of cfg.json`).
 * @throws Error, one line: the option, the path, what is in the way, and what to give instead.
 */
export function checkOutputPath(what: string, p: string, kind: 'file' | 'folder'): void {
  if (fs.existsSync(p)) {
    const isDir = fs.statSync(p).isDirectory();
    if (kind === 'folder' && !isDir) throw new Error(`${what} ${describePath(p)}: is a file, expected a folder to write into; give a new or existing folder`);
    if (kind === 'file' && isDir) throw new Error(`${what} ${describePath(p)}: is a folder, expected a file name to write`);
    return;
  }
  const blocker = fileInTheWay(p);
  if (blocker !== undefined) {
    throw new Error(`${what} ${describePath(p)}: cannot be created because ${blocker} is a file, not a folder; give a path under a folder`);
  }
}

/**
 * Check the output-path options `command` was given (`--out`, `--output-dir`), before the backend starts: the kind
 * (folder or file) comes from the option's value name (`--out <dir>` is a folder, `--out <file>` a file).
 * @throws Error, one line, see {@link checkOutputPath}.
 */
export function checkOutputPaths(command: Command): void {
  const opts = command.opts<Record<string, unknown>>();
  for (const option of command.options) {
    const name = option.attributeName();
    if (name !== 'out' && name !== 'outputDir') continue;
    const v = opts[name];
    if (typeof v !== 'string') continue;
    const kind = name === 'outputDir' || /<dir>/.test(option.flags) ? 'folder' : 'file';
    checkOutputPath(option.long ?? `--${name}`, v, kind);
  }
}

/**
 * The model of `eval` and `predict`: `--checkpoint` (written by `resvision train`) or `--weights` (a whole torchvision
 * state dict, its name or URL already resolved to a file), exactly one of the two.
 * @param where the command, for the message (`resvision eval`).
 * @throws Error, one line, when both or neither are given.
 */
export function modelSourceOf(o: { checkpoint?: string; weights?: string }, where: string): ModelSource {
  const what = '--checkpoint FILE (written by `resvision train`) or --weights FILE|NAME|URL (a torchvision state dict of the whole model)';
  if (o.checkpoint !== undefined && o.weights !== undefined) throw new Error(`${where}: give ${what}, not both`);
  if (o.checkpoint !== undefined) return { checkpoint: o.checkpoint };
  if (o.weights !== undefined) return { weights: o.weights };
  throw new Error(`${where}: give ${what}`);
}

/**
 * A commander argument parser for a positive integer option (`--max-iter 100`): `1.5`, `1e3`, `10abc` and `0` are
 * argument errors rather than silently truncated by `parseInt`.
 */
export function parsePositiveInteger(value: string): number {
  const n = /^\+?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!(Number.isSafeInteger(n) && n >= 1)) throw new InvalidArgumentError(`expected a positive integer, got '${value}'`);
  return n;
}

/** `resvision` or `resvision <sub>` for a command of the tree. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Make `command`'s argument errors (unknown command or option, missing argument) one line on stderr that says
 * where to look: `resvision train: unknown option '--foo'; see \`resvision train --help\``. Commander's own
 * suggestion ("Did you mean train?") stays on that line.
 */
export function oneLineArgumentErrors(command: Command): void {
  const where = commandPath(command);
  command.showHelpAfterError(false).configureOutput({
    outputError: (str, write) => {
      const text = str
        .trim()
        .replace(/^error:\s*/, '')
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean)
        .join(' ')
        .replace(/\.$/, '');
      write(`${where}: ${text}; see \`${where} --help\`\n`);
    },
  });
}

/** The line the CLI prints for an error thrown by a command (its message, first line kept whole). */
export function formatCliError(e: unknown): string {
  if (e instanceof CommanderError) return '';
  return `resvision: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Add `--set key=value` (repeatable) to a command that reads a config: any config key by its dotted path, the value
 * read as JSON (else a string), applied before the schema validates the config (`applyOverride` in
 * src/config/load.ts).
 */
export function addSetOption(command: Command): Command {
  return command.option(
    '--set <key=value>',
    'override any config key by its dotted path, e.g. --set train.batchSize=4 --set data.trainShortEdge=[640,800] (repeatable; the value is JSON, else a string)',
    (v: string, prev: string[] = []) => [...prev, v],
  );
}

/** A commander argument parser for `--shard k/N` (`parseShard`, its error as an argument error). */
export function parseShardOption(value: string): Shard {
  try {
    return parseShard(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--shard '[^']*': /, ''));
  }
}
