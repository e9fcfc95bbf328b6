/**
 * The TypeScript type of the JSON values a JSON Schema accepts, for the subset of draft-07 our config schemas use, so
 * that the schemas in `schema.ts` are the one source of both validation and types (json-schema-to-ts' `FromSchema`,
 * reduced to what we need):
 * - `const` → that literal; `enum` → the union of its values; `oneOf` → the union of its branches;
 * - an object with `allOf: [{ if, then }, ...]` (a union discriminated by one key) → the union of the `then` types;
 * - `type: 'object'` with `properties` and `required` → those keys, the `required` ones mandatory, the rest
 *   optional; with `additionalProperties: S` and no `properties` → `Record<string, FromSchema<S>>`;
 * - `type: 'array'` → `FromSchema<items>[]`, a 3-tuple when `minItems` and `maxItems` are both 3;
 * - `string`, `number`/`integer`, `boolean`, `null` → the JS type. Bounds (minimum, maxItems, ...) narrow nothing.
 * A schema outside the subset gives `unknown`, which no consumer compiles against, so it cannot pass unnoticed.
 */

/** Flattens an intersection into one object type, so hovers and errors show plain keys. */
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The object type of `properties` P with required keys K. */
type ObjectOf<P, K> = Simplify<
  { -readonly [k in keyof P as k extends K ? k : never]: FromSchema<P[k]> } & {
    -readonly [k in keyof P as k extends K ? never : k]?: FromSchema<P[k]>;
  }
>;

/** The type of the values schema `S` accepts (see the module comment for the subset covered). */
export type FromSchema<S> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { oneOf: readonly (infer U)[] }
      ? FromSchema<U>
      : S extends { allOf: readonly (infer A)[] }
        ? A extends { then: infer T }
          ? FromSchema<T>
          : never
        : S extends { type: 'object'; properties: infer P; required: readonly (infer K)[] }
          ? ObjectOf<P, K>
          : S extends { type: 'object'; additionalProperties: infer V }
            ? Record<string, FromSchema<V>>
            : S extends { type: 'array'; items: infer I; minItems: 3; maxItems: 3 }
              ? [FromSchema<I>, FromSchema<I>, FromSchema<I>]
              : S extends { type: 'array'; items: infer I }
                ? FromSchema<I>[]
                : S extends { type: 'string' }
                  ? string
                  : S extends { type: 'number' | 'integer' }
                    ? number
                    : S extends { type: 'boolean' }
                      ? boolean
                      : S extends { type: 'null' }
                        ? null
                        : unknown;
