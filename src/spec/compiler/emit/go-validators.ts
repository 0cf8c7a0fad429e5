/**
 * Go validators: one function per schema node over generic JSON values
 * (nil, bool, float64, string, []any, map[string]any), with ajv's semantics.
 * Each returns "" when the value is valid, else a message naming the path.
 *
 * @example
 * emitGoValidators(ctx) // 'func n0(x any, p string) string { ... }'
 */
import type { CompileContext } from '../context.js'
import type { SchemaNode } from '../ir.js'
import type { JsonType } from '../subset.js'
import { commentText, goNumber, goString } from './literals.js'

const PRED: Record<JsonType, string> = {
  null: 'isNull', boolean: 'isBool', object: 'isObject', array: 'isArray', number: 'isNumber', integer: 'isInteger', string: 'isString'
}

class GoValidatorEmitter {
  private readonly vars: string[] = []
  private readonly varNames = new Map<string, string>()

  constructor (private readonly ctx: CompileContext) {}

  /** A package-level variable (one per distinct expression). */
  private variable (expr: string): string {
    let name = this.varNames.get(expr)
    if (name == null) {
      name = `k${this.vars.length}`
      this.varNames.set(expr, name)
      this.vars.push(`var ${name} = ${expr}`)
    }
    return name
  }

  private fn (n: SchemaNode): string {
    return `n${n.index}`
  }

  private node (n: SchemaNode): string {
    const body: string[] = []
    const fail = (msg: string, indent: string): void => { body.push(`${indent}return p + ${goString(' ' + msg)}`) }
    const sub = (target: SchemaNode, value: string, path: string, indent: string): void => {
      body.push(`${indent}if e := ${this.fn(target)}(${value}, ${path}); e != "" {`, `${indent}\treturn e`, `${indent}}`)
    }
    if (n.bool === false) {
      fail('is not allowed (false schema)', '\t')
      return this.wrap(n, body, false)
    }
    if (n.bool === true) return this.wrap(n, body, true)
    if (n.types != null) {
      body.push(`\tif !(${n.types.map(t => `${PRED[t]}(x)`).join(' || ')}) {`)
      fail(`must be ${n.types.join(' or ')}`, '\t\t')
      body.push('\t}')
    }
    if (n.const != null) {
      body.push(`\tif !jsonEqual(x, ${this.variable(`mustJSON(${goString(JSON.stringify(n.const.value))})`)}) {`)
      fail('must be equal to the constant', '\t\t')
      body.push('\t}')
    }
    if (n.enum != null) {
      const list = this.variable(`mustJSON(${goString(JSON.stringify(n.enum))}).([]any)`)
      body.push(`\tif !func() bool {\n\t\tfor _, v := range ${list} {\n\t\t\tif jsonEqual(x, v) {\n\t\t\t\treturn true\n\t\t\t}\n\t\t}\n\t\treturn false\n\t}() {`)
      fail('must be one of the allowed values', '\t\t')
      body.push('\t}')
    }
    const numeric: Array<[string, string]> = []
    if (n.minimum != null) numeric.push([`v < ${goNumber(n.minimum)}`, `must be >= ${n.minimum}`])
    if (n.maximum != null) numeric.push([`v > ${goNumber(n.maximum)}`, `must be <= ${n.maximum}`])
    if (n.exclusiveMinimum != null) numeric.push([`v <= ${goNumber(n.exclusiveMinimum)}`, `must be > ${n.exclusiveMinimum}`])
    if (n.exclusiveMaximum != null) numeric.push([`v >= ${goNumber(n.exclusiveMaximum)}`, `must be < ${n.exclusiveMaximum}`])
    if (n.multipleOf != null) numeric.push([`!multipleOf(v, ${goNumber(n.multipleOf)})`, `must be a multiple of ${n.multipleOf}`])
    if (numeric.length > 0) {
      body.push('\tif v, ok := x.(float64); ok {')
      for (const [cond, msg] of numeric) {
        body.push(`\t\tif ${cond} {`)
        fail(msg, '\t\t\t')
        body.push('\t\t}')
      }
      body.push('\t}')
    }
    if (n.minLength != null || n.maxLength != null || n.pattern != null) {
      body.push('\tif s, ok := x.(string); ok {')
      if (n.minLength != null) { body.push(`\t\tif runeLen(s) < ${n.minLength} {`); fail(`must have at least ${n.minLength} characters`, '\t\t\t'); body.push('\t\t}') }
      if (n.maxLength != null) { body.push(`\t\tif runeLen(s) > ${n.maxLength} {`); fail(`must have at most ${n.maxLength} characters`, '\t\t\t'); body.push('\t\t}') }
      if (n.pattern != null) {
        body.push(`\t\tif !${this.variable(`mustRegexp(${goString(n.pattern.go)})`)}.MatchString(s) {`)
        fail(`must match pattern ${JSON.stringify(n.pattern.js)}`, '\t\t\t')
        body.push('\t\t}')
      }
      body.push('\t}')
    }
    const ap = n.additionalProperties
    const checksAdditional = ap != null && ap.bool !== true
    const hasObject = n.required != null || n.properties != null || checksAdditional || n.minProperties != null || n.maxProperties != null
    if (hasObject) {
      body.push('\tif m, ok := x.(map[string]any); ok {', '\t\t_ = m')
      for (const r of n.required ?? []) {
        body.push(`\t\tif _, has := m[${goString(r)}]; !has {`)
        fail(`must have required property ${JSON.stringify(r)}`, '\t\t\t')
        body.push('\t\t}')
      }
      if (n.minProperties != null) { body.push(`\t\tif len(m) < ${n.minProperties} {`); fail(`must have at least ${n.minProperties} properties`, '\t\t\t'); body.push('\t\t}') }
      if (n.maxProperties != null) { body.push(`\t\tif len(m) > ${n.maxProperties} {`); fail(`must have at most ${n.maxProperties} properties`, '\t\t\t'); body.push('\t\t}') }
      for (const prop of n.properties ?? []) {
        const k = goString(prop.name)
        body.push(`\t\tif v, has := m[${k}]; has {`)
        sub(prop.node, 'v', `child(p, ${k})`, '\t\t\t')
        body.push('\t\t}')
      }
      if (checksAdditional) {
        const declared = this.variable(`map[string]bool{${(n.properties ?? []).map(q => `${goString(q.name)}: true`).join(', ')}}`)
        body.push('\t\tfor k, v := range m {', `\t\t\tif !${declared}[k] {`)
        if (ap.bool === false) body.push('\t\t\t\t_ = v', '\t\t\t\treturn child(p, k) + " is not allowed (additionalProperties)"')
        else sub(ap, 'v', 'child(p, k)', '\t\t\t\t')
        body.push('\t\t\t}', '\t\t}')
      }
      body.push('\t}')
    }
    const checksItems = n.items != null && n.items.bool !== true
    const hasArray = checksItems || n.prefixItems != null || n.minItems != null || n.maxItems != null || n.uniqueItems === true
    if (hasArray) {
      body.push('\tif a, ok := x.([]any); ok {', '\t\t_ = a')
      if (n.minItems != null) { body.push(`\t\tif len(a) < ${n.minItems} {`); fail(`must have at least ${n.minItems} items`, '\t\t\t'); body.push('\t\t}') }
      if (n.maxItems != null) { body.push(`\t\tif len(a) > ${n.maxItems} {`); fail(`must have at most ${n.maxItems} items`, '\t\t\t'); body.push('\t\t}') }
      const prefix = n.prefixItems ?? []
      prefix.forEach((it, i) => {
        body.push(`\t\tif len(a) > ${i} {`)
        sub(it, `a[${i}]`, `index(p, ${i})`, '\t\t\t')
        body.push('\t\t}')
      })
      if (checksItems) {
        body.push(`\t\tfor i := ${prefix.length}; i < len(a); i++ {`)
        sub(n.items as SchemaNode, 'a[i]', 'index(p, i)', '\t\t\t')
        body.push('\t\t}')
      }
      if (n.uniqueItems === true) { body.push('\t\tif !allUnique(a) {'); fail('must not have duplicate items', '\t\t\t'); body.push('\t\t}') }
      body.push('\t}')
    }
    for (const part of n.allOf ?? []) sub(part, 'x', 'p', '\t')
    if (n.anyOf != null) {
      body.push(`\tif ${n.anyOf.map(a => `${this.fn(a)}(x, p) != ""`).join(' && ')} {`)
      fail('must match a schema in anyOf', '\t\t')
      body.push('\t}')
    }
    if (n.oneOf != null) {
      body.push('\tif c := 0; func() int {', ...n.oneOf.map(a => `\t\tif ${this.fn(a)}(x, p) == "" {\n\t\t\tc++\n\t\t}`), '\t\treturn c', '\t}() != 1 {')
      fail('must match exactly one schema in oneOf', '\t\t')
      body.push('\t}')
    }
    if (n.not != null) {
      body.push(`\tif ${this.fn(n.not)}(x, p) == "" {`)
      fail('must not match the schema in "not"', '\t\t')
      body.push('\t}')
    }
    if (n.ref != null) sub(n.ref, 'x', 'p', '\t')
    return this.wrap(n, body, true)
  }

  private wrap (n: SchemaNode, body: string[], fallthrough: boolean): string {
    return `// ${commentText(`${n.doc.key}#${n.pointer}`)}\nfunc ${this.fn(n)}(x any, p string) string {\n${body.join('\n')}${body.length > 0 ? '\n' : ''}${fallthrough ? '\treturn ""\n' : ''}}\n`
  }

  emit (): string {
    const fns = this.ctx.ir.nodes.map(n => this.node(n))
    const table = this.ctx.entries.map(e => `\t${goString(e.label)}: ${this.fn(e.node)},`)
    const named = this.ctx.entries.map(e => `// Validate${e.stem} returns a *SpecValidationError unless doc is a valid ${commentText(e.label)}.\nfunc Validate${e.stem}(doc any) error { return Validate(${goString(e.label)}, doc) }\n`)
    return `// Code generated by pl spec compile. DO NOT EDIT.

package ${this.ctx.goPackage}

// Validators for the compiled schemas (JSON Schema 2020-12 subset, ajv semantics).

${this.vars.join('\n')}

${fns.join('\n')}
// Validators maps each schema name to its root check.
var Validators = map[string]func(x any, p string) string{
${table.join('\n')}
}

// ErrorOf returns "" when doc is a valid \`name\` document, else why not. Unknown names panic.
func ErrorOf(name string, doc any) string {
	check, ok := Validators[name]
	if !ok {
		panic("unknown schema " + name)
	}
	g := doc
	if !isGeneric(doc) {
		n, err := Normalize(doc)
		if err != nil {
			return "(root) " + err.Error()
		}
		g = n
	}
	e := check(g, "")
	if len(e) > 0 && e[0] == ' ' {
		return "(root)" + e
	}
	return e
}

// IsValid reports whether doc is a valid \`name\` document.
func IsValid(name string, doc any) bool { return ErrorOf(name, doc) == "" }

// Validate returns a *SpecValidationError (naming the failing path) unless doc matches the schema.
func Validate(name string, doc any) error {
	e := ErrorOf(name, doc)
	if e == "" {
		return nil
	}
	path := e
	if i := indexByte(e, ' '); i >= 0 {
		path = e[:i]
	}
	return &SpecValidationError{Schema: name, Path: path, Message: name + ": " + e}
}

// isGeneric reports whether v is already a generic JSON value (what
// encoding/json decodes into any): it is validated as it is, as in TS and
// Python. Other Go values go through Normalize (JSON, then strict dag-json).
func isGeneric(v any) bool {
	switch x := v.(type) {
	case nil, bool, float64, string:
		return true
	case []any:
		for _, e := range x {
			if !isGeneric(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isGeneric(e) {
				return false
			}
		}
		return true
	}
	return false
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

${named.join('\n')}`
  }
}

export function emitGoValidators (ctx: CompileContext): string {
  return new GoValidatorEmitter(ctx).emit()
}
