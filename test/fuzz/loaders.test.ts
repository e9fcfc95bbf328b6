/**
 * Seeded fuzzing of every input format through the project's loaders (scripts/fuzz: the mutators, the loaders and
 * the definition of a clear error): a few hundred mutations per format, each loaded in a child process with a
 * 10 s limit. What must hold for every format: no unclear error (every error is an Error naming the fuzzed file,
 * not a raw library or engine message), no silent drop, no hang, no abort. `scripts/fuzz/run.ts` runs the same on
 * thousands of mutations. Also checked here: the clear-error rule itself on hand-written examples.
 */
import { expect } from 'chai';
import { FUZZ_FORMATS, formatSpecs, makeMutant } from '../../scripts/fuzz/formats';
import { unclarity } from '../../scripts/fuzz/loaders';
import { FuzzCounts, FuzzFinding, runFuzz } from '../../scripts/fuzz/runner';

/** Mutations per format: the whole run takes under a minute on 2 cores. */
const COUNT = 250;
const SEED = 12;

describe('fuzzing the loaders', function () {
  this.timeout(240_000);

  describe('the clear-error rule', () => {
    const f = '/data/x.pth';
    it('clear: an Error naming the file with a reason', () => {
      expect(unclarity({ name: 'Error', message: `${f}: archive entry 'a/data/0': CRC-32 0x1 does not match 0x2` }, f)).to.equal(undefined);
      expect(unclarity({ name: 'ConfigError', message: `${f}: invalid config:\n  /a: must be <= 3, got 9` }, f)).to.equal(undefined);
    });
    it('unclear: no file, a raw message behind the file name, an engine error, a stack trace, the other file blamed', () => {
      expect(unclarity({ name: 'Error', message: 'unexpected EOF' }, f)).to.equal('names no file');
      expect(unclarity({ name: 'Error', message: `${f}: unexpected EOF` }, f)).to.equal('raw library message');
      expect(unclarity({ name: 'Error', message: `${f}: Invalid typed array length: 4294967296` }, f)).to.equal('raw library message');
      expect(unclarity({ name: 'RangeError', message: `${f}: Maximum call stack size exceeded` }, f)).to.equal('engine error');
      expect(unclarity({ name: 'Error', message: `${f}: bad\n    at read (/src/a.ts:1:2)` }, f)).to.equal('stack trace in message');
      expect(unclarity({ name: 'Error', message: '/data/dt.json: record 3 is not an object' }, f, '/data/dt.json')).to.equal('names another file');
      expect(unclarity(undefined, f)).to.equal('not an Error');
    });
  });

  it('mutations are a pure function of (seed, format, index)', () => {
    const specs = formatSpecs();
    for (const format of FUZZ_FORMATS) {
      const a = makeMutant(specs, format, SEED, 7);
      const b = makeMutant(specs, format, SEED, 7);
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), format).to.equal(true);
      expect(a.what).to.equal(b.what);
      expect(Buffer.from(makeMutant(specs, format, SEED, 8).bytes).equals(Buffer.from(a.bytes)), format).to.equal(false);
    }
  });

  describe(`${COUNT} seeded mutations per format`, () => {
    let counts: Record<string, FuzzCounts>;
    let findings: FuzzFinding[];
    before(async () => {
      ({ counts, findings } = await runFuzz({ formats: FUZZ_FORMATS, count: COUNT, seed: SEED, timeoutMs: 10_000, workers: 2 }));
    });

    for (const format of FUZZ_FORMATS) {
      it(`${format}: every input accepted or refused with a clear error; no silent drop, hang or abort`, () => {
        const c = counts[format];
        const mine = findings.filter((x) => x.format === format);
        const shown = JSON.stringify(mine.slice(0, 5), null, 1);
        expect(c.inputs).to.equal(COUNT);
        expect(c.clearErrors + c.accepted, `${JSON.stringify(c)}\n${shown}`).to.equal(COUNT);
        // Mutations must reach the checks: most inputs are refused, some get through.
        expect(c.clearErrors, JSON.stringify(c)).to.be.greaterThan(COUNT / 10);
      });
    }
  });
});
