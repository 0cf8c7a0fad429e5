/**
 * The Capability.v1 descriptor input of a capability spec (as `pl spec
 * from-plan` derives one): name and version from `x-pl-capability`, the io
 * schemas from `properties.input/output`, each carrying the spec's `$defs` so
 * its `#/$defs/…` refs resolve on its own.
 */
import { CAPABILITY_KEYWORD } from '../spec/compiler/capability.js'
import { CompositePlanInvalidError } from './errors.js'

type Obj = Record<string, unknown>

function isObj (v: unknown): v is Obj {
  return v != null && typeof v === 'object' && !Array.isArray(v)
}

export function descriptorFromSpec (spec: unknown, extra: { limits?: Obj, price?: number, attrs?: Obj } = {}): Obj {
  if (!isObj(spec) || !isObj(spec[CAPABILITY_KEYWORD]) || !isObj(spec.properties)) {
    throw new CompositePlanInvalidError(`not a capability spec: it needs ${CAPABILITY_KEYWORD} {name, version} and properties.input/output`)
  }
  const cap = spec[CAPABILITY_KEYWORD]
  const props = spec.properties
  if (typeof cap.name !== 'string' || typeof cap.version !== 'string' || !isObj(props.input) || !isObj(props.output)) {
    throw new CompositePlanInvalidError(`not a capability spec: it needs ${CAPABILITY_KEYWORD} {name, version} and properties.input/output`)
  }
  const defs = isObj(spec.$defs) ? { $defs: spec.$defs } : {}
  return {
    name: cap.name,
    version: cap.version,
    ...(typeof spec.description === 'string' ? { description: spec.description.slice(0, 1000) } : {}),
    io: { input: { ...props.input, ...defs }, output: { ...props.output, ...defs } },
    ...extra
  }
}
