/** Test helpers comparing a module's state bit for bit. */
import { expect } from 'chai';
import { Module } from '../../src/nn/module';

/** Every variable's bits (float32 or int32 bytes), by state name, in the module's state order. */
export function stateBits(m: Module): Map<string, Buffer> {
  return new Map(m.stateEntries().map((e) => [e.name, Buffer.from(e.variable.dataSync().buffer.slice(0))]));
}

/** Same names in the same order and bit-identical values (Buffer.equals; chai's deep equality is slow on megabytes). */
export function expectSameState(a: Map<string, Buffer>, b: Map<string, Buffer>): void {
  expect([...a.keys()]).to.deep.equal([...b.keys()]);
  const differ = [...a.keys()].filter((k) => !a.get(k)!.equals(b.get(k)!));
  expect(differ).to.deep.equal([]);
}
