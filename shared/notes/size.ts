/**
 * The bytes a JSON value takes as Postgres prints it as jsonb (`", "` and `": "` separators), the
 * measure the notes table's size check uses, so the API refuses exactly what the database would.
 * Callers pass validated values, whose nesting is bounded.
 */
export function jsonbTextBytes(value: unknown): number {
  if (Array.isArray(value)) {
    return (
      2 +
      Math.max(0, value.length - 1) * 2 +
      value.reduce((sum: number, item) => sum + jsonbTextBytes(item), 0)
    )
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined)
    return (
      2 +
      Math.max(0, entries.length - 1) * 2 +
      entries.reduce((sum, [key, item]) => sum + utf8Bytes(JSON.stringify(key)) + 2 + jsonbTextBytes(item), 0)
    )
  }
  return utf8Bytes(JSON.stringify(value) ?? 'null')
}

const encoder = new TextEncoder()
const utf8Bytes = (text: string) => encoder.encode(text).length
