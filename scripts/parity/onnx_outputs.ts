/**
 * Run an ONNX model in onnxruntime-node on a raw float32 input and print every output as JSON
 * (`{name: {dims, data}}`). Used by gen_onnx_golden.py to record what torch.onnx's export computes; never in CI.
 *
 * Usage: npx tsx scripts/parity/onnx_outputs.ts MODEL.onnx INPUT.f32 N,C,H,W
 */
import * as fs from 'fs';
import { OnnxRuntimeModel } from '../../src/engine/onnx_runtime';

async function main(): Promise<void> {
  const [modelFile, inputFile, shapeText] = process.argv.slice(2);
  const shape = shapeText.split(',').map(Number) as [number, number, number, number];
  const buf = fs.readFileSync(inputFile);
  const images = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const model = await OnnxRuntimeModel.create(modelFile);
  try {
    const out = await model.run(images, shape);
    const json: Record<string, { dims: number[]; data: number[] }> = {};
    for (const [k, v] of Object.entries(out)) json[k] = { dims: v.dims, data: Array.from(v.data) };
    process.stdout.write(JSON.stringify(json));
  } finally {
    await model.release();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
