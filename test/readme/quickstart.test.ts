/**
 * `resvision quickstart` (`npm run quickstart`, scripts/quickstart.ts, in a clone) and its bundled data: the `examples/bccd` lists name existing,
 * disjoint images; the copy of the data the quickstart trains on keeps exactly the white-blood-cell objects of the XMLs
 * (counts taken from the XML text with a regular expression, not from our parser); a 2-iteration quickstart run ends with pycocotools' 12 lines, the drawn
 * picture and the curve; a second run finds the finished run and evaluates it instead of training; Ctrl-C during
 * `npm run quickstart` leaves a checkpoint the next run resumes from. The runs are processes started as
 * `npm run quickstart` starts them (`node --import tsx`), so that image worker threads load TypeScript too. The learning
 * itself is covered by test/tasks/detection.test.ts; the full quickstart's time and AP are in the README.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { finalCheckpoint, QUICKSTART_CONFIG, QUICKSTART_IMAGE, quickstartConfig } from '../../src/tasks/quickstart';
import { loadDetectionSplit } from '../../datasets/detection_split';

const REPO = path.resolve(__dirname, '../..');
const BCCD = path.join(REPO, 'examples/bccd');

function listed(split: string): string[] {
  return fs.readFileSync(path.join(BCCD, 'ImageSets/Main', `${split}.txt`), 'utf8').split('\n').filter(Boolean);
}

/** Objects per class in the XMLs of `ids`, counted in the raw text. */
function xmlCounts(ids: string[]): Record<string, number> {
  const counts: Record<string, number> = { RBC: 0, WBC: 0, Platelets: 0 };
  for (const id of ids) {
    const xml = fs.readFileSync(path.join(BCCD, 'Annotations', `${id}.xml`), 'utf8');
    for (const m of xml.matchAll(/<object>[\s\S]*?<name>(\w+)<\/name>/g)) counts[m[1]]++;
  }
  return counts;
}

describe('quickstart', function () {
  this.timeout(600_000);

  it('examples/bccd: 64 train and 24 test images, disjoint, each with its JPEG, XML and the licence', () => {
    const train = listed('train');
    const test = listed('test');
    expect([train.length, test.length]).to.deep.equal([64, 24]);
    expect(train.filter((id) => test.includes(id))).to.deep.equal([]);
    // val.txt repeats train.txt: these are BCCD's `val` images, for configs written for the full BCCD layout.
    expect(listed('val')).to.deep.equal(train);
    for (const id of [...train, ...test]) {
      expect(fs.existsSync(path.join(BCCD, 'JPEGImages', `${id}.jpg`)), id).to.equal(true);
      expect(fs.existsSync(path.join(BCCD, 'Annotations', `${id}.xml`)), id).to.equal(true);
    }
    expect(fs.readFileSync(path.join(BCCD, 'LICENSE'), 'utf8')).to.contain('Copyright (c) 2017 shenggan');
    expect(fs.readdirSync(path.join(BCCD, 'JPEGImages')).sort()).to.deep.equal([...train, ...test].map((id) => `${id}.jpg`).sort());
  });

  it('the quickstart trains on white blood cells only: every WBC object of the XMLs, the other classes skipped', async () => {
    const cfg = quickstartConfig();
    expect(cfg.data.root).to.equal(BCCD);
    expect(cfg.data.classes).to.deep.equal(['WBC']);
    if (cfg.data.format !== 'voc') throw new Error('the quickstart reads VOC data');
    expect(cfg.data.unknownClasses).to.equal('skip');
    for (const split of ['train', 'test']) {
      const s = await loadDetectionSplit(cfg.data, split, cfg.data.classes, 'eval');
      expect(s.classes).to.deep.equal(['WBC']);
      expect(s.issues, JSON.stringify(s.issues)).to.deep.equal([]);
      expect(s.records.map((r) => r.imageId)).to.deep.equal(listed(split));
      const boxes = s.records.reduce((n, r) => n + r.target.labels.length, 0);
      expect(boxes, split).to.equal(xmlCounts(listed(split)).WBC);
      // The COCO ground truth the evaluation scores against holds the same WBC boxes and nothing else.
      expect(s.gt.dataset.annotations.length, split).to.equal(boxes);
    }
    // Without the skip, the RBC and platelet objects of examples/bccd are errors naming the file.
    cfg.data.unknownClasses = 'error';
    await loadDetectionSplit(cfg.data, 'test', cfg.data.classes, 'eval').then(
      () => expect.fail('expected an error for the RBC objects'),
      (e: Error) => expect(e.message).to.match(/BloodImage_\d+\.xml[\s\S]*class 'RBC' is not in the class list/),
    );
  });

  describe('a 2-iteration run, as `npm run quickstart -- --max-iter 2` runs it (node --import tsx)', () => {
    let dir: string;
    let out: string;
    let text = '';
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-quickstart-'));
      out = path.join(dir, 'run');
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** `node --import tsx scripts/quickstart.ts ARGS` from the repository root; returns stdout, asserting exit code 0. */
    function quickstart(args: string[]): string {
      const p = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/quickstart.ts', ...args], { cwd: REPO, encoding: 'utf8' });
      expect(p.status, p.stderr).to.equal(0);
      return p.stdout;
    }

    it('trains, then prints the 12 COCO lines, the per-class table and where the checkpoint, picture and curve are', async () => {
      text = quickstart(['--max-iter', '2', '--output-dir', out, '--backend', 'wasm', '--quiet']);
      const ckpt = path.join(out, 'model_0000002.safetensors');
      expect(ckpt).to.equal(finalCheckpoint(quickstartConfig({ outputDir: out, maxIter: 2 })));
      expect(fs.existsSync(ckpt)).to.equal(true);
      const lines = text.split('\n');
      expect(lines.filter((l) => l.startsWith(' Average Precision'))).to.have.length(6);
      expect(lines.filter((l) => l.startsWith(' Average Recall'))).to.have.length(6);
      expect(text).to.contain('split test: 24 images');
      expect(text).to.match(/\nclass +COCO AP % +VOC AP50 %\nWBC +[\d.na/ ]+\nVOC mAP@0\.5 \(1 class\): [\d.]+%\n/);
      const picture = path.join(out, 'predictions', path.basename(QUICKSTART_IMAGE));
      const curve = path.join(out, 'curve.png');
      expect(text).to.contain(`picture:    ${picture} (`);
      expect(text).to.contain(`curve:      ${curve} (`);
      expect(text).to.contain(`npx resvision train ${QUICKSTART_CONFIG} --data examples/bccd --output-dir ${out} --max-iter 2 --backend wasm\n`);
      expect(text).to.match(/\n  npx resvision predict .* --backend wasm\n/);
      const pic = await sharp(picture).metadata();
      expect([pic.format, pic.width, pic.height]).to.deep.equal(['jpeg', 640, 480]);
      expect((await sharp(curve).metadata()).format).to.equal('png');
      expect(fs.existsSync(path.join(out, 'predictions', 'detections.json'))).to.equal(true);
    });

    it('run again: evaluates the finished run instead of training, with the same 12 lines', () => {
      const again = quickstart(['--max-iter', '2', '--output-dir', out, '--backend', 'wasm', '--quiet']);
      expect(again).to.contain('already holds the finished run: evaluating');
      const avg = (s: string) => s.split('\n').filter((l) => l.startsWith(' Average'));
      expect(avg(again)).to.deep.equal(avg(text));
    });
  });

  describe('Ctrl-C during `npm run quickstart`, then the same command again', () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-quickstart-int-'))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /**
     * `npm run quickstart -- ARGS` in its own process group, as a terminal runs it; with `interruptAfterMs`, that many
     * ms after the trainer says it runs, SIGINT goes to the whole group, as Ctrl-C does: npm, the shell and node each
     * get it, and npm forwards it to its child again.
     */
    function runQuickstart(
      args: string[],
      interruptAfterMs?: number,
    ): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const p = spawn('npm', ['run', '--silent', 'quickstart', '--', ...args], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (c) => (stdout += String(c)));
        let timer: NodeJS.Timeout | undefined;
        p.stderr.on('data', (c) => {
          stderr += String(c);
          if (interruptAfterMs !== undefined && !timer && /Ctrl-C stops after the current step/.test(stderr)) {
            timer = setTimeout(() => process.kill(-p.pid!, 'SIGINT'), interruptAfterMs);
          }
        });
        p.on('error', reject);
        p.on('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr });
        });
      });
    }

    it('one press stops the run with a checkpoint (npm re-raises the SIGINT); the same command resumes from it and finishes', async function () {
      if (process.platform === 'win32') this.skip(); // no process groups nor SIGINT delivery as on a POSIX terminal
      const out = path.join(dir, 'run');
      // Not --quiet: the trainer's start line says when to press Ctrl-C (stderr is not a terminal: no bar).
      const args = ['--max-iter', '4', '--output-dir', out, '--backend', 'wasm'];
      // 1.5 s after the trainer starts: the first batch is loading or its step computing.
      const first = await runQuickstart(args, 1500);
      // npm re-raises the SIGINT on itself once its child has exited (the script's own exit code is 130).
      expect([first.code, first.signal], first.stderr).to.deep.equal([null, 'SIGINT']);
      const m = /interrupted at iteration (\d+); checkpoint (\S+)\. Run the same command again to resume\.\n/.exec(first.stdout);
      expect(m, first.stdout + first.stderr).to.not.equal(null);
      const stoppedAt = Number(m![1]);
      expect(stoppedAt).to.be.within(1, 3);
      expect(m![2]).to.equal(path.join(out, `model_000000${stoppedAt}.safetensors`));
      expect(fs.readFileSync(path.join(out, 'last_checkpoint'), 'utf8')).to.equal(`model_000000${stoppedAt}.safetensors\n`);
      // The one press was seen once: one stop notice, no abort.
      expect(first.stderr.match(/SIGINT: stopping after this step/g)).to.have.length(1);

      const second = await runQuickstart(args);
      expect(second.code, second.stderr).to.equal(0);
      expect(second.stdout).to.contain('resuming a ResNet-18 RetinaNet');
      expect(second.stdout).to.contain(`checkpoint: ${path.join(out, 'model_0000004.safetensors')}`);
      const records = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(records.filter((r) => r.type === 'resume').map((r) => r.nextIteration)).to.deep.equal([stoppedAt]);
      expect(records.filter((r) => r.type === 'checkpoint').map((r) => [r.file, r.reason])).to.deep.equal([
        [`model_000000${stoppedAt}.safetensors`, 'interrupted'],
        ['model_0000004.safetensors', 'final'],
      ]);
    });
  });
});
