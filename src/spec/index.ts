/**
 * Protocol schemas at run time: the schema registry (`SchemaRegistry`:
 * protocols/schemas → CIDs + validators, precompiled by the build). The spec
 * compiler behind `pl spec` (validators, types, codecs and receipt checkers
 * for TS/Python/Go, scaffolds, DSL stubs) is a surface of its own,
 * `compiler/index.ts`, so that a node never loads it (docs/ARCHITECTURE.md
 * "Areas and their surfaces").
 *
 * @example
 * const reg = await SchemaRegistry.load()
 * reg.validate('Bid.v1', body) // throws InvalidBodyError with the ajv path
 */
export * from './registry.js'
export * from './precompiled.js'
