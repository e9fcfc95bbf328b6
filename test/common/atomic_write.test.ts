import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeAtomicWith, writeFileAtomic, writeFileAtomicSync, writeJsonAtomic } from '../../src/common/atomic_write';

describe('atomic writes', () => {
  it('writeFileAtomicSync keeps the old file when the write fails and leaves no temporary file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-atomic-'));
    const file = path.join(dir, 'a.txt');
    writeFileAtomicSync(file, 'old');
    fs.mkdirSync(path.join(dir, 'sub.txt'));
    expect(() => writeFileAtomicSync(path.join(dir, 'sub.txt'), 'new')).to.throw();
    expect(fs.readFileSync(file, 'utf8')).to.equal('old');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['a.txt', 'sub.txt']);
  });

  it('writeFileAtomic and writeJsonAtomic: same guarantee, asynchronously; the error names the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-atomic-'));
    const file = path.join(dir, 'a.json');
    await writeJsonAtomic(file, { a: [1, 2] });
    expect(fs.readFileSync(file, 'utf8')).to.equal('{"a":[1,2]}');
    fs.mkdirSync(path.join(dir, 'sub.json'));
    let err: Error | undefined;
    await writeFileAtomic(path.join(dir, 'sub.json'), 'new').catch((e: Error) => (err = e));
    expect(err?.message).to.match(/^cannot write '.*sub\.json': /);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['a.json', 'sub.json']);
  });

  it('writeAtomicWith: a failing writer leaves the old file and no temporary file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-atomic-'));
    const file = path.join(dir, 'p.png');
    writeFileAtomicSync(file, 'old');
    let err: Error | undefined;
    await writeAtomicWith(file, async (tmp) => {
      fs.writeFileSync(tmp, 'half');
      throw new Error('encoder failed');
    }).catch((e: Error) => (err = e));
    expect(err?.message).to.equal(`cannot write '${file}': encoder failed`);
    expect(fs.readFileSync(file, 'utf8')).to.equal('old');
    expect(fs.readdirSync(dir)).to.deep.equal(['p.png']);
  });
});
