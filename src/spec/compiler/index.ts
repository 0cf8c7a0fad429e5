/**
 * The spec compiler: turns JSON Schemas (the protocol schemas, or a
 * capability spec with `x-pl-capability`) into validators, bindings,
 * dag-json codecs and receipt checkers for TypeScript, Python and Go, and
 * capability specs into module skeletons and DSL step stubs. Only the keyword
 * subset all three languages implement identically is accepted
 * (docs/SPEC.md); anything else fails compilation naming keyword and pointer.
 *
 * @example
 * import { compileSchemas, writeGenerated, specId } from './spec/compiler/index.js'
 * const { files } = await compileSchemas(['protocols/schemas'], { langs: ['ts', 'py', 'go'] })
 * await writeGenerated('out', files)   // out/ts, out/py/plspec, out/go, out/manifest.json
 * await specId('examples/specs/Summarize.v1.json') // 'bafyrei...' (same CID the registry computes)
 */
export * from './errors.js'
export { checkSubset, VALIDATION_KEYWORDS, ANNOTATION_KEYWORDS, DRAFT_2020_12 } from './subset.js'
export { translatePattern, type TranslatedPattern } from './pattern.js'
export { readSchemaFile, readSchemaDir, readSchemaPath, schemaCid, DirSource, StoreSource, ControlSource, protocolSource, type BlockClient, type SchemaSource, type LoadedSchema, type SchemaDocument } from './sources.js'
export { buildBundle, parseRef, Bundle, type BundleDoc, type BundleOptions } from './bundle.js'
export { buildIr, type Ir, type SchemaNode } from './ir.js'
export { buildTypeModel, type TypeModel, type TypeRef, type NamedType } from './shapes.js'
export { capabilityOf, requireCapability, CAPABILITY_KEYWORD, INPUT_POINTER, OUTPUT_POINTER, type CapabilityInfo } from './capability.js'
export { createContext, RECEIPT_SCHEMA_IDS, type CompileContext, type CompileOptions, type Entry } from './context.js'
export { compileSchemas, generate, loadBundle, parseLangs, sourcesFor, writeGenerated, LANGS, type Lang, type GeneratedFiles, type LoadOptions, type GenerateOptions } from './compile.js'
export { specId, type SpecIdResult } from './id.js'
export { isDataDir, dataDirSources } from './datadir.js'
export { emitTsTypes } from './emit/ts-types.js'
export { scaffold, type ScaffoldOptions } from './scaffold.js'
export { dslStub } from './stub.js'
export { specFromPlan, ioOfDescriptor, ioOfSpec, type CapabilityIo, type FromPlanOptions } from './from-plan.js'
