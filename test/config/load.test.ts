import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fg from 'fast-glob';
import { ConfigError, loadConfig, scaledLr, validateConfig } from '../../src/config/load';

const ROOT = path.resolve(__dirname, '..', '..');

function base(): Record<string, any> {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/classification/resnet18_hymenoptera.json'), 'utf8'));
}

describe('config loading', () => {
  it('every bundled config validates', async () => {
    const files = await fg('configs/**/*.json', { cwd: ROOT, absolute: true });
    expect(files.length).to.be.greaterThan(0);
    for (const f of files) expect(() => loadConfig(f), f).not.to.throw();
  });

  it('an unknown key is an error naming the key, its path and the file', () => {
    const c = base();
    c.optimizer.learningRate = 0.1;
    expect(() => validateConfig(c, 'my.json')).to.throw(ConfigError, /my\.json: invalid config:\n {2}\/optimizer: unknown key 'learningRate'/);
  });

  it('a wrong type names the JSON path', () => {
    const c = base();
    c.train.batchSize = '16';
    expect(() => validateConfig(c, 'x.json')).to.throw(/\/train\/batchSize: must be integer/);
  });

  it('an unknown backbone lists the allowed names', () => {
    const c = base();
    c.model.backbone.name = 'resnet19';
    expect(() => validateConfig(c, 'x.json')).to.throw(/\/model\/backbone\/name: must be one of "resnet18", "resnet34"/);
  });

  it('a schedule variant with a foreign key is rejected', () => {
    const c = base();
    c.schedule.main = { kind: 'cosine', gamma: 0.1 };
    expect(() => validateConfig(c, 'x.json')).to.throw(/\/schedule\/main: unknown key 'gamma'/);
  });

  it('a missing key and an unknown task are reported', () => {
    const c = base();
    delete c.loss;
    expect(() => validateConfig(c, 'x.json')).to.throw(/\(top level\): missing key 'loss'/);
    expect(() => validateConfig({ task: 'captioning' }, 'x.json')).to.throw(/\/task: must be one of "classification", "detection", "segmentation", got "captioning"/);
  });

  it('a missing file and invalid JSON give one-line reasons', () => {
    expect(() => loadConfig('/nonexistent/cfg.json')).to.throw(/config file not found: \/nonexistent\/cfg\.json/);
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rv-')), 'bad.json');
    fs.writeFileSync(tmp, '{"task": ');
    expect(() => loadConfig(tmp)).to.throw(/bad\.json: invalid config:\n {2}not valid JSON/);
  });

  describe('absurd values are refused at load, one line naming the key and the limit', () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-bounds-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Write `text` (raw JSON, so 1e999 survives) and load it; returns the ConfigError message. */
    function loadError(name: string, text: string): string {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      try {
        loadConfig(file);
      } catch (e) {
        expect(e).to.be.instanceOf(ConfigError);
        return (e as Error).message;
      }
      return expect.fail('expected a ConfigError');
    }
    const detection = (): Record<string, any> =>
      JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/detection/retinanet_r18_fpn_bccd_quickstart.json'), 'utf8'));
    const segmentation = (): Record<string, any> =>
      JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/segmentation/fcn_r50_d8_camvid.json'), 'utf8'));

    it('trainCropSize 100000 (was: Invalid typed array length while decoding)', () => {
      const c = segmentation();
      c.data.trainCropSize = 100000;
      const file = path.join(dir, 'crop.json');
      expect(loadError('crop.json', JSON.stringify(c))).to.equal(`${file}: invalid config:\n  /data/trainCropSize: must be <= 8192, got 100000`);
      const k = base();
      k.data.trainCropSize = 100000;
      expect(loadError('crop.json', JSON.stringify(k))).to.equal(`${file}: invalid config:\n  /data/trainCropSize: must be <= 8192, got 100000`);
    });

    it('sizes each within bounds whose product no heap holds: one line naming the keys and the 4 GiB limit', () => {
      const k = base();
      k.data.trainCropSize = 8192;
      k.train.batchSize = 64;
      // 64 x 8192 x 8192 x 3 x 4 bytes = 51539607552.
      expect(loadError('batch.json', JSON.stringify(k))).to.equal(
        `${path.join(dir, 'batch.json')}: invalid config:\n  the training input batch [64, 8192, 8192, 3] float32 takes 51539607552 bytes, ` +
          "more than the 4294967296 (4 GiB) the wasm backend's heap can hold; lower train.batchSize or data.trainCropSize",
      );
      const s = segmentation();
      s.data.trainCropSize = 1024;
      s.model.numClasses = 65535;
      // The input batch fits; the logits [N, 1024, 1024, 65535] do not.
      expect(loadError('logits.json', JSON.stringify(s))).to.match(
        /invalid config:\n {2}the training logits \[\d+, 1024, 1024, 65535\] float32 takes \d+ bytes, more than the 4294967296 \(4 GiB\) the wasm backend's heap can hold; lower train\.batchSize, data\.trainCropSize or model\.numClasses$/,
      );
    });

    it('an input batch that fits but whose stem activation does not (detection at 8192 px): one line', () => {
      const d = detection();
      d.data.trainShortEdge = [8192];
      d.data.trainMaxSize = 8192;
      d.train.batchSize = 4;
      // Input 4 x 8192 x 8192 x 3 x 4 bytes = 3 GiB fits; conv1's 4 x 4096 x 4096 x 64 x 4 bytes = 16 GiB does not.
      expect(loadError('stem.json', JSON.stringify(d))).to.equal(
        `${path.join(dir, 'stem.json')}: invalid config:\n  the stem activation (conv1 output) [4, 4096, 4096, 64] float32 takes ` +
          "17179869184 bytes, more than the 4294967296 (4 GiB) the wasm backend's heap can hold; lower train.batchSize, " +
          'data.trainShortEdge or data.trainMaxSize',
      );
    });

    it('fpn.channels 64000000', () => {
      const c = detection();
      c.model.fpn.channels = 64000000;
      expect(loadError('fpn.json', JSON.stringify(c))).to.match(/fpn\.json: invalid config:\n {2}\/model\/fpn\/channels: must be <= 4096, got 64000000$/);
    });

    it('1e999 (Infinity after JSON.parse) no longer passes the integer checks', () => {
      const c = base();
      c.schedule.maxIter = 'MAXITER';
      c.train.batchSize = 'BATCH';
      const text = JSON.stringify(c).replace('"MAXITER"', '1e999').replace('"BATCH"', '-1e999');
      const msg = loadError('inf.json', text);
      expect(msg).to.contain('\n  /schedule/maxIter: must be <= 1000000000, got Infinity (a number too large for float64, e.g. 1e999)');
      expect(msg).to.contain('\n  /train/batchSize: must be >= 1, got -Infinity (a number too large for float64, e.g. 1e999)');
      const d = detection();
      d.optimizer.baseLr = 'LR';
      expect(loadError('lr.json', JSON.stringify(d).replace('"LR"', '1e999'))).to.match(
        /\n {2}\/optimizer\/baseLr: must be <= 1\.7976931348623157e\+308, got Infinity \(a number too large for float64, e\.g\. 1e999\)$/,
      );
    });

    it('a value nested 200,000 levels deep: a ConfigError, not a stack overflow from the validator or the message', () => {
      const c = detection();
      c.model.fpn.inLevels = ['DEEP', 'DEEP'];
      c.task = 'detection';
      const deep = '['.repeat(200_000) + ']'.repeat(200_000);
      expect(loadError('deep.json', JSON.stringify(c).replace(/"DEEP"/g, deep))).to.match(/deep\.json: invalid config:\n {2}a value is nested too deeply to validate/);
      const t = base();
      t.task = 'DEEP';
      expect(loadError('deep_task.json', JSON.stringify(t).replace('"DEEP"', deep))).to.match(
        /\/task: must be one of "classification", "detection", "segmentation", got \[\[\[\[\[…\]\]\]\]\]$/,
      );
    });
  });

  it('linear scaling rule: 0.1 x 16 / 256 = 0.00625', () => {
    expect(scaledLr({ optimizer: { baseLr: 0.1, baseBatchSize: 256 }, train: { batchSize: 16 } })).to.equal(0.00625);
  });
});
