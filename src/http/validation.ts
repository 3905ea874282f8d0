// Schema validation for every route: bodies are validated strictly (no type
// coercion: "5" is not a number), query strings, params and headers are
// coerced from text. Ajv errors are turned into API.md §1 `details`.
import { Ajv, type ErrorObject } from 'ajv'
import formatsModule, { type FormatsPlugin } from 'ajv-formats'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import { type ErrorDetail, UNPAIRED_SURROGATE } from '../errors.ts'
import { normaliseTimestamp } from '../time.ts'

const READ_ONLY_FIELDS = new Set(['id', 'ownerId', 'createdAt', 'updatedAt', 'deletedAt', 'version'])

// ajv-formats is CommonJS with a default export; under Node's ESM interop the plugin is on `.default`.
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ??
  formatsModule) as unknown as FormatsPlugin

/** ajv-formats' own date-time (RFC 3339, a time zone required), which the service's builds on. */
const dateTimeFormat = fullFormats['date-time'] as {
  validate: unknown
  compare: (a: string, b: string) => number | undefined
}

function makeAjv(coerceTypes: false | 'array'): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
    verbose: true,
  })
  addFormats(ajv, ['date-time', 'email', 'uri', 'uuid'])
  // A date-time the service takes is one it can store and give back: RFC 3339 with a time zone,
  // in the years 0001–9999 once in UTC (PostgreSQL has no year 0), and no leap second (which
  // neither JavaScript nor the engines represent). Checked here rather than after the schema,
  // so a 422 lists it beside every other problem.
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (value: string) => rfc3339(value) && storableTime(value),
    compare: dateTimeFormat.compare,
  })
  // Rules that hold after normalisation, checked in the same pass as the rest so
  // that one response lists every problem (a length after trimming, distinct tags).
  ajv.addKeyword({
    keyword: 'x-trimmed-max-length',
    type: 'string',
    schemaType: 'number',
    validate: (max: number, data: string) => [...data.trim()].length <= max,
  })
  ajv.addKeyword({
    keyword: 'x-future',
    type: 'string',
    schemaType: 'boolean',
    // A time after now (an expiry): checked beside the rest so a 422 lists it with every other
    // problem. A value that is no date-time fails its format instead.
    validate: (future: boolean, data: string) => {
      const at = Date.parse(data)
      return !future || Number.isNaN(at) || at > Date.now()
    },
  })
  ajv.addKeyword({
    keyword: 'x-distinct-list',
    type: 'string',
    schemaType: 'boolean',
    // A comma-separated list naming each item once; a leading `-` (descending) is not part of the name.
    validate: (distinct: boolean, data: string) => {
      if (!distinct) return true
      const names = data.split(',').map((part) => part.trim().replace(/^-/, ''))
      return new Set(names).size === names.length
    },
  })
  ajv.addKeyword({
    keyword: 'x-max-distinct',
    type: 'array',
    schemaType: 'number',
    validate: (max: number, data: unknown[]) =>
      new Set(data.map((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v))).size <= max,
  })
  return ajv
}

const rfc3339 = (value: string) => (dateTimeFormat.validate as (value: string) => boolean)(value)
const storableTime = (value: string) => normaliseTimestamp(value) !== undefined

const bodyAjv = makeAjv(false)
const textAjv = makeAjv('array')

// Both walks below keep their own stack instead of recursing: a body is any JSON the parser
// accepts, and 10,000 nested arrays (20 KB) would overflow the call stack (a 500) here.

/**
 * Whether every string in `value` (keys included) is valid Unicode text. Allocates nothing
 * unless the body nests objects or arrays, and then one stack of them.
 */
function allWellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed()
  if (typeof value !== 'object' || value === null) return true
  const pending: object[] = [value]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (Array.isArray(next)) {
      for (const item of next) {
        if (typeof item === 'string') {
          if (!item.isWellFormed()) return false
        } else if (typeof item === 'object' && item !== null) pending.push(item)
      }
      continue
    }
    for (const key in next) {
      if (!Object.hasOwn(next, key)) continue
      if (!key.isWellFormed()) return false
      const item = (next as Record<string, unknown>)[key]
      if (typeof item === 'string') {
        if (!item.isWellFormed()) return false
      } else if (typeof item === 'object' && item !== null) pending.push(item)
    }
  }
  return true
}

/** The JSON Pointers (as Ajv's instancePath) of the strings in `value` that are not valid Unicode text, in document order. */
function illFormedStrings(value: unknown): string[] {
  const found: string[] = []
  // Each entry: a value, its path, and whether the key that names it is itself ill-formed.
  const pending: Array<[unknown, string, boolean]> = [[value, '', false]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path, badKey] = next
    if (badKey) found.push(path)
    if (typeof item === 'string') {
      if (!item.isWellFormed()) found.push(path)
    } else if (typeof item === 'object' && item !== null) {
      const children: Array<[unknown, string, boolean]> = Array.isArray(item)
        ? item.map((child, i) => [child, `${path}/${i}`, false])
        : Object.entries(item).map(([key, child]) => [
            child,
            `${path}/${pointerToken(key)}`,
            !key.isWellFormed(),
          ])
      // Pushed last to first, so the first child is walked first.
      for (let i = children.length - 1; i >= 0; i--) pending.push(children[i] as [unknown, string, boolean])
    }
  }
  return found
}

const pointerToken = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1')

type Validate = ReturnType<FastifySchemaCompiler<unknown>> & {
  errors?: unknown[] | null
  schemaEnv?: unknown
}

/**
 * Every string of every body must be valid Unicode text (see UNPAIRED_SURROGATE). Bodies are
 * checked for unpaired surrogates beside the schema, not by a pattern in each string's
 * schema: no route's strings can forget it, and the problems it finds are listed with the
 * schema's in one 422. The paths are built only for a body that has such a string.
 */
function withWellFormedStrings(validate: Validate): Validate {
  const checked = ((data: unknown, dataCxt?: unknown) => {
    const valid = (validate as (data: unknown, dataCxt?: unknown) => unknown)(data, dataCxt) === true
    if (allWellFormed(data)) {
      if (valid) return true
      checked.errors = validate.errors
      return false
    }
    checked.errors = [
      ...((valid ? [] : validate.errors) ?? []),
      ...illFormedStrings(data).map((instancePath) => ({
        keyword: 'x-well-formed',
        instancePath,
        schemaPath: '',
        params: {},
        parentSchema: { 'x-error': UNPAIRED_SURROGATE },
      })),
    ]
    return false
  }) as Validate
  // Fastify hands Ajv validators (those with a schemaEnv) the parent of the data, so a schema
  // may change a root value (a default, a coerced type): kept for the wrapped one.
  checked.schemaEnv = validate.schemaEnv
  return checked
}

/**
 * Query validation coerces any text Number() accepts ("0x10", "1e2", "5.0", " 5") to a number;
 * API.md wants integers, so a query parameter the schema types as an integer must be plain
 * digits (a sign allowed). Anything else is made to fail the schema's integer check, which then
 * reports it with every other problem of the request.
 */
function withPlainIntegers(validate: Validate, schema: object): Validate {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {}
  const integers = Object.keys(properties).filter((name) => properties[name]?.type === 'integer')
  if (integers.length === 0) return validate
  const checked = ((data: unknown, dataCxt?: unknown) => {
    if (typeof data === 'object' && data !== null) {
      const params = data as Record<string, unknown>
      for (const name of integers) {
        const value = params[name]
        if (typeof value === 'string' && !/^-?[0-9]+$/.test(value)) params[name] = 'not an integer'
      }
    }
    const valid = (validate as (data: unknown, dataCxt?: unknown) => unknown)(data, dataCxt)
    checked.errors = validate.errors
    return valid
  }) as Validate
  checked.schemaEnv = validate.schemaEnv
  return checked
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  if (httpPart === 'body') return withWellFormedStrings(bodyAjv.compile(schema as object) as Validate)
  const validate = textAjv.compile(schema as object) as Validate
  return httpPart === 'querystring' ? withPlainIntegers(validate, schema as object) : validate
}

function joinPath(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`
}

function describeType(type: unknown): string {
  const types = Array.isArray(type) ? type : [type]
  const names = types.map((t) =>
    t === 'integer'
      ? 'an integer'
      : t === 'array'
        ? 'an array'
        : t === 'object'
          ? 'an object'
          : t === 'null'
            ? 'null'
            : `a ${String(t)}`,
  )
  return `must be ${names.join(' or ')}`
}

function messageFor(error: ErrorObject, field: string): string {
  const params = error.params as Record<string, unknown>
  const custom = (error.parentSchema as Record<string, unknown> | undefined)?.['x-error']
  switch (error.keyword) {
    case 'required':
      return 'is required'
    case 'additionalProperties':
      return READ_ONLY_FIELDS.has(field.split('.').pop() ?? '') ? 'is read-only' : 'is not a known field'
    case 'type':
      return describeType(params.type)
    case 'enum':
      return `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}`
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : `must be at least ${params.limit} characters`
    case 'maxLength': {
      // Where the limit that binds is the trimmed length's, the plain bound (there to keep the
      // trimming cheap) says the same problem in its words: one message, the real limit.
      const trimmedMax = (error.parentSchema as Record<string, unknown> | undefined)?.['x-trimmed-max-length']
      return `must be at most ${typeof trimmedMax === 'number' ? trimmedMax : params.limit} characters`
    }
    case 'minItems':
      return `must have at least ${params.limit} items`
    case 'maxItems':
      return `must have at most ${params.limit} items`
    case 'uniqueItems':
      return 'must not contain duplicates'
    case 'minimum':
      return `must be ${params.comparison === '>=' ? 'at least' : 'greater than'} ${params.limit}`
    case 'maximum':
      return `must be ${params.comparison === '<=' ? 'at most' : 'less than'} ${params.limit}`
    case 'x-trimmed-max-length':
      return `must be at most ${error.schema as number} characters`
    case 'x-distinct-list':
      return 'must not name the same item more than once'
    case 'x-future':
      return 'must be a time in the future'
    case 'x-max-distinct':
      return `must have at most ${error.schema as number} distinct items`
    case 'pattern':
      return typeof custom === 'string' ? custom : 'has an invalid format'
    case 'format':
      if (typeof custom === 'string') return custom
      return params.format === 'date-time'
        ? 'must be an RFC 3339 date-time with a time zone, in the years 0001–9999 (UTC)'
        : `must be a valid ${params.format}`
    default:
      return typeof custom === 'string' ? custom : (error.message ?? 'is invalid')
  }
}

/** Turns Ajv errors into one detail per problem; `field` is a dotted path (body) or the parameter name. */
export function validationDetails(
  errors: FastifySchemaValidationError[],
  context: string | undefined,
): ErrorDetail[] {
  const details: (ErrorDetail & { isType: boolean })[] = []
  const seen = new Set<string>()
  // A value of the wrong type is one problem: "must be a string" says it, the enum or length
  // rules that also fail on it (null for status) would only repeat it.
  const wrongType = new Set<string>()
  for (const raw of errors as unknown as ErrorObject[]) {
    // A failed anyOf/oneOf repeats its branches' errors; the branches say more.
    if (raw.keyword === 'anyOf' || raw.keyword === 'oneOf' || raw.keyword === 'if') continue
    const params = raw.params as Record<string, unknown>
    let field = raw.instancePath
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .join('.')
    if (raw.keyword === 'required') field = joinPath(field, String(params.missingProperty))
    if (raw.keyword === 'additionalProperties') field = joinPath(field, String(params.additionalProperty))
    if (field === '' && context === 'body') field = 'body'
    const message = messageFor(raw, field)
    const key = `${field}\u0000${message}`
    if (seen.has(key)) continue
    seen.add(key)
    if (raw.keyword === 'type') wrongType.add(field)
    details.push({ field, message, isType: raw.keyword === 'type' })
  }
  return details
    .filter((d) => d.isType || !wrongType.has(d.field))
    .map(({ field, message }) => ({ field, message }))
}
