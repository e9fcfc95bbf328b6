import { expect } from 'chai';
import { boxAreas, boxesXywhToXyxy, boxesXyxyToXywh, clipBoxesInPlace } from '../../src/ops/boxes';

describe('boxes', () => {
  it('xyxy <-> xywh: [10, 20, 30, 60] is x 10, y 20, w 20, h 40', () => {
    const xyxy = Float32Array.from([10, 20, 30, 60, 0, 0, 1.5, 2.5]);
    expect(Array.from(boxesXyxyToXywh(xyxy))).to.deep.equal([10, 20, 20, 40, 0, 0, 1.5, 2.5]);
    expect(Array.from(boxesXywhToXyxy(boxesXyxyToXywh(xyxy)))).to.deep.equal(Array.from(xyxy));
  });

  it('areas: (x2 - x1) * (y2 - y1), no +1', () => {
    expect(Array.from(boxAreas([0, 0, 10, 5, 1, 1, 1, 9]))).to.deep.equal([50, 0]);
  });

  it('clip to a 40 (H) x 50 (W) image: x to [0, 50], y to [0, 40]', () => {
    const b = Float64Array.from([-5, -1, 60, 30, 10, 45, 20, 50]);
    clipBoxesInPlace(b, 40, 50);
    expect(Array.from(b)).to.deep.equal([0, 0, 50, 30, 10, 40, 20, 40]);
  });

  it('rejects a length that is not a multiple of 4', () => {
    expect(() => boxAreas([0, 0, 1])).to.throw(/\[M \* 4\]/);
  });
});
