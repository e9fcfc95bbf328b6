import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cli';

/** Run the CLI expecting it to fail; return the error's message. */
async function cliError(args: string[]): Promise<string> {
  try {
    await runCli(args);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`resvision ${args.join(' ')} did not fail`);
}

describe('--weights by name (resolved before the path checks and the backend)', () => {
  let home: string;
  const saved = { home: process.env.RESVISION_HOME, offline: process.env.RESVISION_OFFLINE, torch: process.env.TORCH_HOME };
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'resvision-home-'));
    process.env.RESVISION_HOME = home;
    process.env.RESVISION_OFFLINE = '1';
    // torch.hub's folder inside the temporary home too, so a file torchvision downloaded on this machine is not found.
    process.env.TORCH_HOME = path.join(home, 'torch');
  });
  afterEach(() => {
    for (const [k, v] of [['RESVISION_HOME', saved.home], ['RESVISION_OFFLINE', saved.offline], ['TORCH_HOME', saved.torch]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('features --weights torchvision:resnet18 offline and not cached: one line naming the file and where to put it', async () => {
    const msg = await cliError(['features', '--model', 'resnet18', '--weights', 'torchvision:resnet18', '--images', home, '--out', path.join(home, 'f.npy')]);
    expect(msg).to.equal(
      'torchvision:resnet18: not in the cache and working offline (RESVISION_OFFLINE=1): download ' +
        `https://download.pytorch.org/models/resnet18-f37072fd.pth and put it at ${path.join(home, 'weights', 'resnet18-f37072fd.pth')}`,
    );
  });

  it('a cached name becomes its file: the next check to fail is --images, not --weights', async () => {
    fs.mkdirSync(path.join(home, 'weights'));
    fs.writeFileSync(path.join(home, 'weights', 'resnet18-f37072fd.pth'), 'placed by hand');
    const missing = path.join(home, 'no-images');
    const msg = await cliError(['features', '--model', 'resnet18', '--weights', 'torchvision:resnet18.IMAGENET1K_V1', '--images', missing, '--out', path.join(home, 'f.npy')]);
    expect(msg).to.match(new RegExp(`^--images ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: folder not found`));
  });

  it('--weights-mirror is used for the URL; an unknown weights name lists the published ones', async () => {
    const msg = await cliError(['--weights-mirror', 'http://127.0.0.1:9/tv', 'features', '--model', 'resnet50', '--weights', 'torchvision:resnet50.IMAGENET1K_V3', '--images', home, '--out', path.join(home, 'f.npy')]);
    expect(msg).to.equal("torchvision:resnet50.IMAGENET1K_V3: unknown weights 'IMAGENET1K_V3' of resnet50; expected DEFAULT or one of IMAGENET1K_V1, IMAGENET1K_V2");
    const offline = await cliError(['--weights-mirror', 'http://127.0.0.1:9/tv/', 'features', '--model', 'resnet50', '--weights', 'torchvision:resnet50', '--images', home, '--out', path.join(home, 'f.npy')]);
    expect(offline).to.include('download http://127.0.0.1:9/tv/resnet50-11ad3fa6.pth and put it at ');
  });

  it("train: a name in the config's model.weights is resolved the same way", async () => {
    const cfg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'configs', 'classification', 'resnet18_hymenoptera.json'), 'utf-8'));
    cfg.model.weights = 'torchvision:resnet34';
    const file = path.join(home, 'config.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const msg = await cliError(['train', file, '--data', home]);
    expect(msg).to.match(/^torchvision:resnet34: not in the cache .* put it at .*resnet34-b627a593\.pth$/);
  });
});
