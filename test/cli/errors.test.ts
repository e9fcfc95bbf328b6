/**
 * The mistakes a newcomer makes on the README's path, each through the CLI as typed, each answered with one line that
 * says what is wrong and what to do: an unknown subcommand or option, a missing argument, a wrong config path, a
 * missing data folder (given with --data or named by the config), an unknown model name (config and `features`), a
 * missing weights file or checkpoint, a bad backend name. The expected lines are the messages as designed (the
 * project's own wording), checked whole so that a change of wording is a deliberate one.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import { Command, CommanderError } from 'commander';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatCliError } from '../../src/cli/common';
import { buildProgram, explainWasmTrap } from '../../src/cli/main';

const REPO = path.resolve(__dirname, '../..');
const QUICKSTART = 'configs/detection/retinanet_r18_fpn_bccd_quickstart.json';

/** What one CLI call printed on stderr, and the line the CLI prints for the error it threw (if any). */
interface CliOutcome {
  stderr: string;
  /** `formatCliError` of a thrown non-argument error ('' for none). */
  errorLine: string;
  /** commander's error code for an argument error (`commander.unknownCommand`, ...). */
  code?: string;
}

/** Run the CLI in this process from the repository root (the README's working folder), capturing stderr. */
async function runCli(args: string[]): Promise<CliOutcome> {
  const program = buildProgram();
  const all: Command[] = [program, ...program.commands];
  for (const c of all) c.exitOverride();
  const chunks: string[] = [];
  const werr = process.stderr.write.bind(process.stderr);
  const wout = process.stdout.write.bind(process.stdout);
  (process.stderr as { write: unknown }).write = (c: string | Uint8Array) => (chunks.push(String(c)), true);
  (process.stdout as { write: unknown }).write = () => true;
  const cwd = process.cwd();
  process.chdir(REPO);
  try {
    await program.parseAsync(['node', 'resvision', ...args]);
    return { stderr: chunks.join(''), errorLine: '' };
  } catch (e) {
    return { stderr: chunks.join(''), errorLine: formatCliError(e), code: e instanceof CommanderError ? e.code : undefined };
  } finally {
    process.chdir(cwd);
    (process.stderr as { write: unknown }).write = werr;
    (process.stdout as { write: unknown }).write = wout;
  }
}

describe('CLI errors on the README path', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-cli-err-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Write the quickstart config with `edit` applied; returns its path. */
  function editedConfig(name: string, edit: (c: Record<string, any>) => void): string {
    const cfg = JSON.parse(fs.readFileSync(path.join(REPO, QUICKSTART), 'utf8'));
    edit(cfg);
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(cfg));
    return file;
  }

  it("unknown subcommand 'trian': one line with commander's suggestion and where to look", async () => {
    const r = await runCli(['trian', 'x.json']);
    expect(r.code).to.equal('commander.unknownCommand');
    expect(r.stderr).to.equal("resvision: unknown command 'trian' (Did you mean train?); see `resvision --help`\n");
  });

  it("unknown option '--max-iters' of train: one line naming the subcommand's --help", async () => {
    const r = await runCli(['train', QUICKSTART, '--max-iters', '5']);
    expect(r.code).to.equal('commander.unknownOption');
    expect(r.stderr).to.equal("resvision train: unknown option '--max-iters' (Did you mean --max-iter?); see `resvision train --help`\n");
  });

  it('missing config argument: one line', async () => {
    const r = await runCli(['eval', '--checkpoint', 'x.safetensors']);
    expect(r.stderr).to.equal("resvision eval: missing required argument 'config'; see `resvision eval --help`\n");
  });

  it('a bad --backend name lists the choices', async () => {
    const r = await runCli(['--backend', 'gpu', 'doctor']);
    expect(r.stderr).to.equal(
      "resvision: option '--backend <name>' argument 'gpu' is invalid. Allowed choices are auto, tensorflow, webgpu, wasm, cpu; see `resvision --help`\n",
    );
  });

  it('wrong config path: names the file and where the bundled configs are', async () => {
    const r = await runCli(['train', 'configs/detection/retinanet_r18_quickstart.json']);
    expect(r.errorLine).to.equal(
      'resvision: config file not found: configs/detection/retinanet_r18_quickstart.json (the bundled configs are in configs/<task>/*.json)',
    );
  });

  it('--data naming a missing folder: checked before the backend starts, with the expected layout', async () => {
    const r = await runCli(['train', QUICKSTART, '--data', 'examples/bcd']);
    expect(r.errorLine).to.equal(
      `resvision: --data examples/bcd (relative to ${REPO}): folder not found; give the dataset root (VOC: Annotations/, ` +
        'JPEGImages/, ImageSets/Main/; COCO: annotations/ and the image folders; ImageFolder: one folder per class), e.g. --data examples/bccd',
    );
    expect(r.stderr).to.equal('');
  });

  it("a config whose data.root is missing (a clone without ../shared): names the root and both ways to fix it", async () => {
    const file = editedConfig('no_data.json', (c) => (c.data.root = path.join(dir, 'BCCD')));
    const r = await runCli(['train', file, '--output-dir', path.join(dir, 'run_no_data')]);
    expect(r.errorLine).to.equal(
      `resvision: data root not found: ${path.join(dir, 'BCCD')} (${path.join(dir, 'BCCD')}; relative paths start at the current folder): ` +
        'pass --data ROOT or set data.root in the config',
    );
  });

  it('unknown model name in a config: the JSON path and the valid names', async () => {
    const file = editedConfig('resnet51.json', (c) => (c.model.backbone.name = 'resnet51'));
    const r = await runCli(['train', file]);
    expect(r.errorLine).to.equal(
      `resvision: ${file}: invalid config:\n  /model/backbone/name: must be one of "resnet18", "resnet34", "resnet50", "resnet101", ` +
        '"resnet152", "wide_resnet50_2", "wide_resnet101_2", "resnext50_32x4d", "resnext101_32x8d"',
    );
  });

  it('unknown model name for features: the valid names', async () => {
    const r = await runCli(['features', '--model', 'resnet51', '--images', 'examples/bccd/JPEGImages', '--out', path.join(dir, 'f.npy')]);
    expect(r.errorLine).to.equal(
      "resvision: unknown model 'resnet51': expected one of resnet18, resnet34, resnet50, resnet101, resnet152, wide_resnet50_2, " +
        'wide_resnet101_2, resnext50_32x4d, resnext101_32x8d',
    );
  });

  it('missing weights file: where to get one', async () => {
    const r = await runCli(['train', QUICKSTART, '--weights', 'resnet18.pth']);
    expect(r.errorLine).to.equal(
      `resvision: --weights resnet18.pth (relative to ${REPO}): file not found; give a torchvision/timm state dict (.pth or ` +
        '.safetensors), or a name such as torchvision:resnet50.IMAGENET1K_V2; the README section "Weights from PyTorch" ' +
        'shows how to save one',
    );
  });

  it('a folder given as --weights: says it is a folder', async () => {
    const r = await runCli(['train', QUICKSTART, '--weights', dir]);
    expect(r.errorLine).to.match(new RegExp(`^resvision: --weights ${dir}: is a folder, expected a file; give a torchvision/timm state dict`));
  });

  it('missing checkpoint for eval: what train writes and where', async () => {
    const r = await runCli(['eval', QUICKSTART, '--checkpoint', 'runs/quickstart/model_0000999.safetensors']);
    expect(r.errorLine).to.equal(
      `resvision: --checkpoint runs/quickstart/model_0000999.safetensors (relative to ${REPO}): file not found; give a .safetensors ` +
        'checkpoint that `resvision train` wrote into its train.outputDir (e.g. runs/quickstart/model_0000150.safetensors)',
    );
  });

  it('plot-curves on a folder without a log', async () => {
    const r = await runCli(['plot-curves', dir, '--out', path.join(dir, 'c.png')]);
    expect(r.errorLine).to.equal(
      `resvision: ${dir} holds no metrics.jsonl: pass the output folder of a \`resvision train\` run (train.outputDir) or a .jsonl file`,
    );
  });

  it('--output-dir under a file (was: ENOTDIR from mkdir): one line naming the file in the way', async () => {
    const file = path.join(dir, 'a_file');
    fs.writeFileSync(file, 'x');
    const r = await runCli(['train', QUICKSTART, '--output-dir', path.join(file, 'run')]);
    expect(r.errorLine).to.equal(
      `resvision: --output-dir ${path.join(file, 'run')}: cannot be created because ${file} is a file, not a folder; give a path under a folder`,
    );
    // The same for train.outputDir named by the config.
    const cfg = editedConfig('outdir_under_file.json', (c) => (c.train.outputDir = path.join(file, 'run')));
    expect((await runCli(['train', cfg])).errorLine).to.equal(
      `resvision: train.outputDir of ${cfg}: ${path.join(file, 'run')}: cannot be created because ${file} is a file, not a folder; give a path under a folder`,
    );
  });

  it('predict --out naming an existing file (was: EEXIST from mkdir): one line', async () => {
    const file = path.join(dir, 'predictions.txt');
    fs.writeFileSync(file, 'x');
    const r = await runCli(['predict', QUICKSTART, 'examples/bccd/JPEGImages/BloodImage_00062.jpg', '--checkpoint', QUICKSTART, '--out', file]);
    expect(r.errorLine).to.equal(`resvision: --out ${file}: is a file, expected a folder to write into; give a new or existing folder`);
  });

  it('--max-iter 1.5 (was: silently 1) and --max-iter 0: commander argument errors, one line each', async () => {
    for (const v of ['1.5', '0', '10abc']) {
      const r = await runCli(['train', QUICKSTART, '--max-iter', v]);
      expect(r.code).to.equal('commander.invalidArgument');
      expect(r.stderr).to.equal(
        `resvision train: option '--max-iter <n>' argument '${v}' is invalid. expected a positive integer, got '${v}'; see \`resvision train --help\`\n`,
      );
    }
  });

  it('as a process: exit code 1 and the one line on stderr, nothing on stdout', () => {
    const p = spawnSync(process.execPath, ['--require', 'tsx/cjs', 'src/cli/main.ts', 'trian'], { cwd: REPO, encoding: 'utf8' });
    expect(p.status).to.equal(1);
    expect(p.stdout).to.equal('');
    expect(p.stderr).to.equal("resvision: unknown command 'trian' (Did you mean train?); see `resvision --help`\n");
  });
});

describe('wasm traps', () => {
  it('memory access out of bounds and Aborted() say what to lower; other lines pass through unchanged', () => {
    expect(explainWasmTrap('resvision: memory access out of bounds')).to.equal(
      'resvision: memory access out of bounds (a wasm kernel failed, most often because the 4 GB wasm heap ran out: ' +
        'lower train.batchSize or the image sizes of the config, e.g. data.trainShortEdge / data.trainMaxSize or data.trainCropSize)',
    );
    expect(explainWasmTrap('resvision: Aborted()')).to.match(/^resvision: Aborted\(\) \(a wasm kernel failed/);
    expect(explainWasmTrap('resvision: cfg.json: invalid config')).to.equal('resvision: cfg.json: invalid config');
  });
});
