import { expect } from 'chai';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { isRemoteWeightsSpec, resolveWeights, torchvisionWeightsName, WeightsFetchOptions } from '../../src/weights/download';

/** Await `p`, assert it rejects with an Error matching `pattern`, and return that error. */
async function expectRejects(p: Promise<unknown>, pattern: RegExp): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected an error matching ${pattern}`).to.be.instanceOf(Error);
  expect((err as Error).message).to.match(pattern);
  return err as Error;
}

/** Every regular file under `dir` (relative paths), to show what a call left in the cache. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('resolveWeights (a local HTTP server on 127.0.0.1, never the internet)', () => {
  // 300 kB of deterministic bytes: several chunks on the wire.
  const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
  const requests: string[] = [];
  let server: http.Server;
  let base: string;
  let home: string;
  let opts: WeightsFetchOptions;

  before(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/missing.pth') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
      } else if (req.url === '/truncated.pth') {
        // Announces the whole file, sends a third, then drops the connection.
        res.writeHead(200, { 'content-length': String(body.length) });
        res.write(body.subarray(0, 100_000), () => res.destroy());
      } else {
        res.writeHead(200, { 'content-length': String(body.length) }).end(body);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'resvision-home-'));
    opts = { home, mirror: null, torchHubDir: null, offline: false, progress: false, log: () => undefined };
    requests.length = 0;
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  it('a plain URL is downloaded once; the second call reads the cache without a request', async () => {
    const url = `${base}/weights/tiny.pth`;
    const first = await resolveWeights(url, opts);
    expect(first.source).to.equal('download');
    expect(fs.readFileSync(first.file).equals(body)).to.equal(true);
    expect(first.file.startsWith(path.join(home, 'weights', 'url'))).to.equal(true);
    expect(path.basename(first.file)).to.equal('tiny.pth');
    const second = await resolveWeights(url, opts);
    expect(second).to.deep.equal({ ...first, source: 'cache' });
    expect(requests).to.deep.equal(['/weights/tiny.pth']);
    expect(filesUnder(home)).to.have.length(1); // no temporary file left behind
  });

  it('#sha256= with the right digest (full, or its first 8 digits) is accepted', async () => {
    const full = await resolveWeights(`${base}/a.pth#sha256=${sha256(body)}`, opts);
    const prefix = await resolveWeights(`${base}/a.pth#sha256=${sha256(body).slice(0, 8).toUpperCase()}`, opts);
    expect([full.source, prefix.source]).to.deep.equal(['download', 'download']);
    expect(fs.readFileSync(prefix.file).equals(body)).to.equal(true);
    expect(full.file).to.not.equal(prefix.file); // the fragment is part of the cache key
  });

  it('#sha256= that does not match: refused, and nothing is cached', async () => {
    const wrong = sha256(body).startsWith('0') ? '1'.repeat(64) : '0'.repeat(64);
    const spec = `${base}/b.pth#sha256=${wrong}`;
    await expectRejects(resolveWeights(spec, opts), new RegExp(`invalid hash value .*expected "${wrong}", got "${sha256(body)}"`));
    expect(filesUnder(home)).to.deep.equal([]);
    // A second try downloads again (it was not cached), and is refused again.
    await expectRejects(resolveWeights(spec, opts), /invalid hash value/);
    expect(requests).to.deep.equal(['/b.pth', '/b.pth']);
  });

  it('torchvision:resnet18 through a mirror: the hash in the published name is checked; a wrong file is refused, nothing cached', async () => {
    const err = await expectRejects(
      resolveWeights('torchvision:resnet18', { ...opts, mirror: `${base}/mirror/` }),
      /^torchvision:resnet18: invalid hash value of http:\/\/127\.0\.0\.1:\d+\/mirror\/resnet18-f37072fd\.pth \(expected "f37072fd", got "[0-9a-f]{64}"\); the file was not kept$/,
    );
    expect(err.message).to.not.include('\n');
    expect(requests).to.deep.equal(['/mirror/resnet18-f37072fd.pth']);
    expect(filesUnder(home)).to.deep.equal([]);
  });

  it('torchvision:resnet50 = resnet50.DEFAULT = IMAGENET1K_V2, read from the cache with its 1000 class names', async () => {
    const cached = path.join(home, 'weights', 'resnet50-11ad3fa6.pth');
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    fs.writeFileSync(cached, 'placed by hand');
    for (const spec of ['torchvision:resnet50', 'torchvision:resnet50.DEFAULT', 'torchvision:resnet50.IMAGENET1K_V2']) {
      const r = await resolveWeights(spec, { ...opts, mirror: `${base}/mirror` });
      expect(r).to.include({ spec, file: cached, source: 'cache', name: 'resnet50.IMAGENET1K_V2', url: `${base}/mirror/resnet50-11ad3fa6.pth` });
      expect([r.categories?.length, r.categories?.[0], r.categories?.[999]]).to.deep.equal([1000, 'tench', 'toilet tissue']);
    }
    const seg = torchvisionWeightsName('deeplabv3_resnet101');
    expect(seg).to.equal('deeplabv3_resnet101.COCO_WITH_VOC_LABELS_V1');
    expect(requests).to.deep.equal([]);
  });

  it("a file torchvision already downloaded into torch.hub's checkpoint folder is used; our own cache comes first", async () => {
    const hubDir = path.join(home, 'torch', 'hub', 'checkpoints');
    fs.mkdirSync(hubDir, { recursive: true });
    fs.writeFileSync(path.join(hubDir, 'resnet34-b627a593.pth'), 'from torch.hub');
    const fromHub = await resolveWeights('torchvision:resnet34', { ...opts, mirror: base, torchHubDir: hubDir });
    expect(fromHub).to.include({ file: path.join(hubDir, 'resnet34-b627a593.pth'), source: 'torch-hub', name: 'resnet34.IMAGENET1K_V1' });
    const ours = path.join(home, 'weights', 'resnet34-b627a593.pth');
    fs.mkdirSync(path.dirname(ours), { recursive: true });
    fs.writeFileSync(ours, 'ours');
    expect(await resolveWeights('torchvision:resnet34', { ...opts, mirror: base, torchHubDir: hubDir })).to.include({ file: ours, source: 'cache' });
    expect(requests).to.deep.equal([]);
  });

  it('without a mirror the URL is download.pytorch.org; offline, one line says which file to put where', async () => {
    const file = path.join(home, 'weights', 'fcn_resnet50_coco-1167a1af.pth');
    const err = await expectRejects(
      resolveWeights('torchvision:fcn_resnet50', { ...opts, offline: true }),
      /working offline \(RESVISION_OFFLINE=1\): download https:\/\/download\.pytorch\.org\/models\/fcn_resnet50_coco-1167a1af\.pth and put it at (.*)$/,
    );
    expect(err.message.endsWith(`put it at ${file}`)).to.equal(true);
    expect(err.message).to.not.include('\n');
  });

  it('a refused connection: one line with the cause and where to put the file; nothing cached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const err = await expectRejects(resolveWeights(`http://127.0.0.1:${port}/c.pth`, opts), /cannot download .*ECONNREFUSED.*; offline, download .* and put it at .*c\.pth$/);
    expect(err.message).to.not.include('\n');
    expect(filesUnder(home)).to.deep.equal([]);
  });

  it('HTTP 404 and a transfer cut short are errors naming the URL; nothing cached', async () => {
    await expectRejects(resolveWeights(`${base}/missing.pth`, opts), /missing\.pth answered HTTP 404 Not Found; download .* and put it at /);
    await expectRejects(resolveWeights(`${base}/truncated.pth`, opts), /truncated\.pth.*(broke off|sent \d+ bytes of 300000).*nothing was cached/);
    expect(filesUnder(home)).to.deep.equal([]);
  });

  it('unknown names list what exists; a bad fragment says what it must be; a path is returned as given', async () => {
    await expectRejects(resolveWeights('torchvision:resnet51', opts), /unknown model 'resnet51'; weights are published for resnet18, resnet34, .*deeplabv3_resnet101$/);
    await expectRejects(resolveWeights('torchvision:resnet50.IMAGENET1K_V3', opts), /unknown weights 'IMAGENET1K_V3' of resnet50; expected DEFAULT or one of IMAGENET1K_V1, IMAGENET1K_V2$/);
    await expectRejects(resolveWeights(`${base}/d.pth#md5=abc`, opts), /fragment must be #sha256=/);
    expect(await resolveWeights('weights/r50.pth', opts)).to.deep.equal({ spec: 'weights/r50.pth', file: 'weights/r50.pth', source: 'path' });
    expect(['torchvision:resnet18', 'https://x/y.pth', 'HTTP://x/y', 'r.pth', 'C:/w.pth'].map(isRemoteWeightsSpec)).to.deep.equal([true, true, true, false, false]);
    expect(requests).to.deep.equal([]);
  });
});
