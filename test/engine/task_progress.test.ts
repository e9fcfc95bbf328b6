/**
 * Progress of evaluation-style loops: a bar on a terminal, plain periodic lines elsewhere (log files, CI), nothing
 * when quiet.
 */
import { expect } from 'chai';
import { Writable } from 'stream';
import { startTaskProgress } from '../../src/engine/task_progress';

/** A non-terminal stream that keeps what is written. */
function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, done) {
      w.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('task progress', () => {
  it('not a terminal: one plain line per period with count, rate and ETA; none for the last item (the summary follows)', async () => {
    const out = sink();
    const p = startTaskProgress('eval', 4, { unit: 'images', stream: out, everySec: 0.05 });
    p.update(1); // before the first period: nothing
    await new Promise((r) => setTimeout(r, 80));
    p.update(2);
    p.update(3); // within the period of the previous line: nothing
    await new Promise((r) => setTimeout(r, 80));
    p.update(4); // done: nothing
    p.stop();
    const lines = out.text.trimEnd().split('\n');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^eval 2\/4 images \| \d+\.\d\d\/s \| ETA \d+m\d\ds$/);
  });

  it('quiet: nothing at all', async () => {
    const out = sink();
    const p = startTaskProgress('eval', 2, { quiet: true, stream: out, everySec: 0 });
    p.update(1);
    p.stop();
    expect(out.text).to.equal('');
  });
});
