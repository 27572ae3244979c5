/**
 * postgres_changes subscription parameters, parsed as hosted Realtime parses them
 * (Extensions.PostgresCdcRls.Subscriptions.parse_subscription_params): `column=op.value` joined by
 * top-level commas (AND), `not.` negates, `in.(a,b)` becomes the array literal `{a,b}`, values may
 * be double-quoted PostgREST-style.
 */

export const FILTER_OPERATORS = [
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'in',
  'like',
  'ilike',
  'is',
  'match',
  'imatch',
  'isdistinct',
] as const

/** [column, operator, value, negate], the form the database side evaluates. */
export type Filter = [column: string, op: string, value: string, negate: boolean]
export type Action = '*' | 'INSERT' | 'UPDATE' | 'DELETE'

export interface ChangeSubscription {
  /** The id the client matches events to (hosted: a hash of the params). */
  id: number
  action: Action
  schema: string
  table: string
  filters: Filter[]
  select: string[] | null
}

export class SubscriptionParamsError extends Error {}

export function parseSubscription(params: unknown): ChangeSubscription {
  if (!params || typeof params !== 'object' || Array.isArray(params)) {
    throw new SubscriptionParamsError('postgres_changes entries must be objects')
  }
  const p = params as Record<string, unknown>
  const has = (key: string) => p[key] !== undefined && p[key] !== null
  let schema: string
  let table: string
  let filters: Filter[] = []
  if (typeof p.schema === 'string' && typeof p.table === 'string' && typeof p.filter === 'string') {
    schema = p.schema
    table = p.table
    filters = parseFilters(p.filter)
  } else if (typeof p.schema === 'string' && typeof p.table === 'string' && !has('filter')) {
    schema = p.schema
    table = p.table
  } else if (typeof p.schema === 'string' && !has('table') && !has('filter')) {
    schema = p.schema
    table = '*'
  } else if (typeof p.table === 'string' && !has('schema') && !has('filter')) {
    schema = 'public'
    table = p.table
  } else {
    throw new SubscriptionParamsError(
      'No subscription params provided. Please provide at least a `schema` or `table` to subscribe to',
    )
  }
  let select: string[] | null = null
  if (has('select')) {
    if (!Array.isArray(p.select)) {
      throw new SubscriptionParamsError(
        'Error parsing `select` params: expected a list of column name strings, e.g. select: ["col1", "col2"]',
      )
    }
    const columns = p.select.filter((c): c is string => typeof c === 'string')
    select = columns.length ? columns : null
    if (select && (schema === '*' || table === '*')) {
      throw new SubscriptionParamsError(
        'Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table name.',
      )
    }
  }
  return { id: subscriptionId(p), action: action(p.event), schema, table, filters, select }
}

function action(event: unknown): Action {
  const upper = typeof event === 'string' ? event.toUpperCase() : '*'
  return upper === 'INSERT' || upper === 'UPDATE' || upper === 'DELETE' ? upper : '*'
}

export function parseFilters(filter: string): Filter[] {
  const trimmed = filter.trim()
  if (!trimmed) return []
  return splitTopLevel(trimmed).map(parseSegment)
}

/** Splits on commas outside parentheses and double quotes (a quote opens after `.`, `(` or `,`). */
function splitTopLevel(filter: string): string[] {
  const segments: string[] = []
  let current = ''
  let depth = 0
  let quoted = false
  let prev = ''
  for (let i = 0; i < filter.length; i++) {
    const char = filter[i]
    if (quoted) {
      if (char === '\\' && i + 1 < filter.length) {
        current += char + filter[++i]
        prev = filter[i]
        continue
      }
      if (char === '"') quoted = false
    } else if (char === '"' && (prev === '.' || prev === '(' || prev === ',')) {
      quoted = true
    } else if (char === '(') {
      depth++
    } else if (char === ')') {
      depth = Math.max(0, depth - 1)
    } else if (char === ',' && depth === 0) {
      segments.push(current)
      current = ''
      prev = ''
      continue
    }
    current += char
    prev = char
  }
  segments.push(current)
  return segments
}

function parseSegment(segment: string): Filter {
  const trimmed = segment.trim()
  if (!trimmed)
    throw new SubscriptionParamsError('filter must not contain empty segments (check for extra commas)')
  const eq = trimmed.indexOf('=')
  if (eq < 0) throw new SubscriptionParamsError(`Error parsing \`filter\` params: ["${trimmed}"]`)
  const column = trimmed.slice(0, eq)
  let rest = trimmed.slice(eq + 1)
  const negate = rest.startsWith('not.')
  if (negate) rest = rest.slice(4)
  const dot = rest.indexOf('.')
  if (dot < 0) throw new SubscriptionParamsError(`Error parsing \`filter\` params: ["${column}", "${rest}"]`)
  const op = rest.slice(0, dot)
  const value = rest.slice(dot + 1)
  if (!(FILTER_OPERATORS as readonly string[]).includes(op)) {
    throw new SubscriptionParamsError(`Error parsing \`filter\` params: ["${op}", "${value}"]`)
  }
  if (op === 'in') {
    if (value.length < 2 || !value.startsWith('(') || !value.endsWith(')')) {
      throw new SubscriptionParamsError('`in` filter value must be wrapped by parentheses')
    }
    return [column, op, `{${value.slice(1, -1)}}`, negate]
  }
  return [column, op, unquote(value), negate]
}

function unquote(value: string): string {
  if (!value.startsWith('"')) return value
  let out = ''
  for (let i = 1; i < value.length; i++) {
    const char = value[i]
    if (char === '\\' && i + 1 < value.length) out += value[++i]
    else if (char === '"') return i === value.length - 1 ? out : value
    else out += char
  }
  return value
}

/** The id hosted Realtime gives a subscription: a stable hash of its params (here 32-bit FNV-1a). */
export function subscriptionId(params: Record<string, unknown>): number {
  const canonical = JSON.stringify(params, (_key, value) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)))
      : value,
  )
  let hash = 0x811c9dc5
  for (let i = 0; i < canonical.length; i++) {
    hash ^= canonical.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
