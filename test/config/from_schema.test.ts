/**
 * `FromSchema` derives the config types from the JSON Schemas. The type-level cases below fail `tsc` when the
 * derivation is wrong (each `Same<...>` must be `true`); the runtime cases check that Ajv accepts and rejects
 * exactly what the derived types say for the same schemas.
 */
import Ajv from 'ajv';
import { expect } from 'chai';
import type { FromSchema } from '../../src/config/from_schema';
import { backboneSchema, detectionDataSchema, scheduleSchema } from '../../src/config/schema';
import type { BackboneLevel } from '../../src/backbone/features';
import type { NormLayer } from '../../src/nn/layers';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// Literals, optional keys, nullable unions, tuples and discriminated if/then unions.
const literal: Same<FromSchema<{ const: 'sgd' }>, 'sgd'> = true;
const enums: Same<FromSchema<typeof backboneSchema>['normLayer'], NormLayer> = true;
const tuple: Same<FromSchema<typeof backboneSchema>['replaceStrideWithDilation'], [boolean, boolean, boolean]> = true;
const optional: Same<FromSchema<typeof backboneSchema>['outLevels'], BackboneLevel[] | undefined> = true;
const nullable: Same<FromSchema<{ oneOf: [{ type: 'string' }, { type: 'null' }] }>, string | null> = true;
const formats: Same<FromSchema<typeof detectionDataSchema>['format'], 'coco' | 'voc'> = true;
const kinds: Same<FromSchema<typeof scheduleSchema>['main']['kind'], 'constant' | 'step' | 'multistep' | 'cosine' | 'poly'> = true;

describe('FromSchema', () => {
  const ajv = new Ajv({ strict: false });

  it('type-level derivations hold (literal, enum, 3-tuple, optional, nullable, if/then unions)', () => {
    expect([literal, enums, tuple, optional, nullable, formats, kinds]).to.deep.equal([true, true, true, true, true, true, true]);
  });

  it('backbone: Ajv accepts the derived required keys and rejects a missing one and an unknown one', () => {
    const ok: FromSchema<typeof backboneSchema> = {
      name: 'resnet18',
      normLayer: 'frozen',
      frozenStages: 1,
      zeroInitResidual: false,
      replaceStrideWithDilation: [false, false, false],
    };
    const validate = ajv.compile(backboneSchema);
    expect(validate(ok)).to.equal(true);
    const { frozenStages: _, ...missing } = ok;
    expect(validate(missing)).to.equal(false);
    expect(validate({ ...ok, depth: 18 })).to.equal(false);
  });

  it('schedule: a step schedule without stepSize is refused, as its derived type requires it', () => {
    const validate = ajv.compile(scheduleSchema);
    const step: FromSchema<typeof scheduleSchema> = { maxIter: 10, main: { kind: 'step', stepSize: 5, gamma: 0.1 } };
    expect(validate(step)).to.equal(true);
    expect(validate({ maxIter: 10, main: { kind: 'step', gamma: 0.1 } })).to.equal(false);
  });
});
