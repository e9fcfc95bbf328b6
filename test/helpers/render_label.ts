/**
 * Child process of test/engine/fonts.test.ts (fontconfig reads its configuration once per process): draws one
 * detection label on `input` and writes the result to `output` as PNG.
 *   draw:  through `drawDetections` (the bundled font set up as the drawing code does it)
 *   plain: the same SVG composited with sharp directly, with whatever fonts fontconfig finds
 * Usage: node --require tsx/cjs test/helpers/render_label.ts draw|plain INPUT OUTPUT
 */
import sharp from 'sharp';
import { detectionOverlaySvg, drawDetections, DrawnBox } from '../../src/tasks/draw';

const [mode, input, output] = process.argv.slice(2);
const boxes: DrawnBox[] = [{ boxXyxy: [10, 30, 190, 58], label: 0, text: 'person 0.93 Ag' }];

async function main(): Promise<void> {
  if (mode === 'draw') {
    await drawDetections(input, output, boxes, { fontSize: 16 });
  } else {
    const { width, height } = await sharp(input).metadata();
    const svg = Buffer.from(detectionOverlaySvg(width!, height!, boxes, { fontSize: 16 }));
    await sharp(input).composite([{ input: svg, top: 0, left: 0 }]).png().toFile(output);
  }
}
main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
