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

/** The message of the Error `p` rejects with; throws when `p` resolves. */
export async function rejectionMessage(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}
