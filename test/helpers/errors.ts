/** Test helpers for asserting errors. */
import { expect } from 'chai';

/** Await `p` and assert that it rejects with an Error whose message matches `pattern`. */
export async function expectRejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  let err: Error | undefined;
  try {
    await p;
  } catch (e) {
    err = e as Error;
  }
  expect(err, `expected an error matching ${pattern}`).to.be.instanceOf(Error);
  expect(err!.message).to.match(pattern);
}
