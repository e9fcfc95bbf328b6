/**
 * Weights without a file system: a checkpoint's bytes, a URL served on 127.0.0.1, and tf.io handlers, into a model
 * built with other initial values; the result must equal the saved model bit for bit. Also the in-memory safetensors
 * reader against the file reader, and the errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'chai';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { ResNet, resnet18, resnet34 } from '../../src/backbone/resnet';
import { CHECKPOINT_FORMAT, saveCheckpoint } from '../../src/engine/checkpoint';
import { RESVISION_CHECKPOINT_FORMAT, loadModelWeights, saveModelWeights } from '../../src/weights/model_weights';
import { SafetensorsFile, writeSafetensors } from '../../src/weights/safetensors';
import { SafetensorsBuffer } from '../../src/weights/safetensors_bytes';
import { expectRejects } from '../helpers/errors';
import { expectNoLeak } from '../helpers/tensors';

/** Every state tensor of `a` equals `b`'s exactly. */
function expectSameState(a: ResNet, b: ResNet): void {
  const eb = new Map(b.stateEntries().map((e) => [e.name, e.variable]));
  const bytes = (v: tf.Variable): Buffer => {
    const d = v.dataSync() as Float32Array;
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  };
  const differ = a.stateEntries().filter((e) => !bytes(e.variable).equals(bytes(eb.get(e.name)!)));
  expect(differ.map((e) => e.name)).to.deep.equal([]);
}

describe('loadModelWeights', () => {
  let dir: string;
  let file: string;
  let saved: ResNet;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-weights-'));
    file = path.join(dir, 'ckpt.safetensors');
    saved = resnet18({ seed: 1 });
    const slot = tf.ones([3]);
    await saveCheckpoint(file, { model: saved, optimizerState: { 'conv1.weight.momentum_buffer': slot }, meta: { iteration: 1 } });
    slot.dispose();
  });
  after(() => {
    saved.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('uses the checkpoint format string saveCheckpoint writes', () => {
    expect(RESVISION_CHECKPOINT_FORMAT).to.equal(CHECKPOINT_FORMAT);
  });

  it('from a Uint8Array and an ArrayBuffer: bit-identical state, optimizer slots ignored, no leak', async () => {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const model = resnet18({ seed: 2 });
    const r = await loadModelWeights(model, bytes);
    expect(r.loaded.length).to.equal(model.stateEntries().length);
    expect(r.unexpected).to.deep.equal([]);
    expectSameState(model, saved);
    await loadModelWeights(model, bytes.slice().buffer);
    expectSameState(model, saved);
    await expectNoLeak(() => loadModelWeights(model, bytes));
    model.dispose();
  });

  it('from a URL (fetch), and an HTTP error names the URL', async () => {
    const body = fs.readFileSync(file);
    const server = http.createServer((req, res) => {
      if (req.url === '/ckpt.safetensors') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const model = resnet18({ seed: 3 });
      await loadModelWeights(model, `${base}/ckpt.safetensors`);
      expectSameState(model, saved);
      await expectRejects(loadModelWeights(model, `${base}/missing.safetensors`), /missing\.safetensors: HTTP 404/);
      model.dispose();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('round trip through tf.io handlers (withSaveHandler, fromMemory)', async () => {
    let artifacts: tf.io.ModelArtifacts | undefined;
    await saveModelWeights(
      saved,
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    expect(artifacts!.weightSpecs!.map((s) => s.name)).to.deep.equal(saved.stateEntries().map((e) => e.name));
    const model = resnet18({ seed: 4 });
    await loadModelWeights(model, tf.io.fromMemory({ weightSpecs: artifacts!.weightSpecs, weightData: artifacts!.weightData }));
    expectSameState(model, saved);
    model.dispose();
  });

  it('errors: another architecture, not a checkpoint, truncated bytes; the model is left untouched', async () => {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const other = resnet34({ seed: 5 });
    const before = Array.from(other.stateEntries()[0].variable.dataSync());
    await expectRejects(loadModelWeights(other, bytes), /^buffer: weights do not fit the model: missing: layer1\.2\./);
    expect(Array.from(other.stateEntries()[0].variable.dataSync())).to.deep.equal(before);
    const loose = await loadModelWeights(other, bytes, { strict: false });
    expect(loose.missing.length).to.be.greaterThan(0);
    other.dispose();
    const plain = path.join(dir, 'plain.safetensors');
    await writeSafetensors(plain, [{ name: 'x', dtype: 'F32', shape: [1], data: new Uint8Array(4) }]);
    const model = resnet18();
    await expectRejects(loadModelWeights(model, new Uint8Array(fs.readFileSync(plain))), /not a resvision checkpoint/);
    await expectRejects(loadModelWeights(model, bytes.subarray(0, 1000)), /^buffer: truncated: header of \d+ bytes/);
    model.dispose();
  });
});

describe('SafetensorsBuffer', () => {
  it('reads the same names, shapes and bytes as SafetensorsFile', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rv-stbuf-'));
    const file = path.join(dir, 'a.safetensors');
    try {
      await writeSafetensors(
        file,
        [
          { name: 'a', dtype: 'F32', shape: [2, 3], data: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer) },
          { name: 'b', dtype: 'I64', shape: [1], data: new Uint8Array(8).fill(7) },
        ],
        { note: 'x' },
      );
      const st = await SafetensorsFile.open(file);
      const buf = SafetensorsBuffer.parse(fs.readFileSync(file), 'a.safetensors');
      expect(buf.keys()).to.deep.equal(st.keys());
      expect(buf.metadata).to.deep.equal(st.metadata);
      for (const k of st.keys()) {
        const x = await st.read(k);
        const y = buf.read(k);
        expect([y.dtype, y.shape, Array.from(y.data)]).to.deep.equal([x.dtype, x.shape, Array.from(x.data)]);
      }
      await st.close();
      expect(() => buf.read('c')).to.throw(/a\.safetensors: no tensor 'c'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
