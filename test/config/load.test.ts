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

  it('linear scaling rule: 0.1 x 16 / 256 = 0.00625', () => {
    expect(scaledLr({ optimizer: { baseLr: 0.1, baseBatchSize: 256 }, train: { batchSize: 16 } })).to.equal(0.00625);
  });
});
