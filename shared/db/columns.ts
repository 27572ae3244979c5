import type postgres from 'postgres'
import type { Tx } from '../core/context.ts'

export type ColumnValue = string | number | boolean | null | postgres.Parameter

/** A JSON value as a jsonb parameter. */
export const jsonParam = (tx: Tx, value: unknown) => tx.json(value as postgres.JSONValue)

/** The fields a partial update gives, in order. */
export const givenColumns = (changes: object) =>
  Object.entries(changes)
    .filter(([, value]) => value !== undefined)
    .map(([column]) => column)

/**
 * A partial update's given fields as column values for postgres.js's `set ${sql(values)}`. JSON
 * values (content, metadata) go through `sql.json`: a JSON string cast to jsonb would be encoded
 * twice once postgres.js knows the parameter's type (a string, not the array or object).
 */
export function columnValues(tx: Tx, changes: object): Record<string, ColumnValue> {
  const values: Record<string, ColumnValue> = {}
  for (const [column, value] of Object.entries(changes)) {
    if (value === undefined) continue
    values[column] =
      value !== null && typeof value === 'object' ? jsonParam(tx, value) : (value as ColumnValue)
  }
  return values
}
