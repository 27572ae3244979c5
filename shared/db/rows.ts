import type { ServiceContext, Tx } from '../core/context.ts'
import { NotFoundError } from '../core/errors.ts'
import type { RowChange, RowVersion } from '../core/schemas.ts'
import { columnValues, givenColumns } from './columns.ts'
import { matchesVersion, refuseMissingOrStale, type VersionedTable } from './versions.ts'
import { withUserStatement } from './with-user.ts'

// The verbs' pieces that are the same for every table served by id: read one row, change or
// delete it conditionally on its version (If-Match). RLS decides which rows the user may touch; a
// row that is not theirs reads as missing.

/** A table whose rows are served by id, with `updated_at` as each row's version. */
export interface RowTable<Row extends object> {
  name: VersionedTable
  /** The columns a row is answered with (its schema's fields). */
  columns: readonly (keyof Row & string)[]
  /** The error for a row that is missing or someone else's (a 404). */
  notFound: () => Error
}

/** A table's `RowTable`; a missing row is not found with this message (e.g. 'No such note'). */
export const rowTable = <Row extends object>(
  name: RowTable<Row>['name'],
  columns: RowTable<Row>['columns'],
  notFoundMessage: string,
): RowTable<Row> => ({ name, columns, notFound: () => new NotFoundError(notFoundMessage) })

// postgres.js's helper types cannot follow a generic row type: the table's identifiers go in as strings.
const tableOf = (tx: Tx, { name }: { name: string }) => tx(`public.${name}`)
const columnsOf = (tx: Tx, { columns }: { columns: readonly string[] }) => tx(columns)

/** The row with this id, or undefined if the user has none such. */
export async function selectRow<Row extends object>(
  tx: Tx,
  table: RowTable<Row>,
  id: string,
): Promise<Row | undefined> {
  const [row] = await tx<Row[]>`select ${columnsOf(tx, table)} from ${tableOf(tx, table)} where id = ${id}`
  return row
}

/** The user's row with this id, in a transaction of its own (or the caller's); else the table's 404. */
export async function getRow<Row extends object>(
  ctx: ServiceContext,
  table: RowTable<Row>,
  id: string,
): Promise<Row> {
  const [row] = await withUserStatement(
    ctx,
    (tx) => tx<Row[]>`select ${columnsOf(tx, table)} from ${tableOf(tx, table)} where id = ${id}`,
    ctx.tx,
  )
  if (!row) throw table.notFound()
  return row
}

/**
 * Sets the fields given, if the row is at one of the expected versions; with no field given it
 * only reads the row, still checking the version. A missing row is a 404, a stale one a 412.
 */
export async function updateRow<Row extends object>(
  tx: Tx,
  table: RowTable<Row>,
  { id, changes, expected }: RowChange<object>,
): Promise<Row> {
  const columns = givenColumns(changes)
  const [row] =
    columns.length === 0
      ? await tx<Row[]>`
          select ${columnsOf(tx, table)} from ${tableOf(tx, table)} where id = ${id} and ${matchesVersion(tx, expected)}`
      : await tx<Row[]>`
          update ${tableOf(tx, table)} set ${tx(columnValues(tx, changes), columns)}
          where id = ${id} and ${matchesVersion(tx, expected)}
          returning ${columnsOf(tx, table)}`
  if (!row) return refuseMissingOrStale(tx, table.name, id, table.notFound)
  return row
}

/** Deletes the row, if it is at one of the expected versions. A missing row is a 404, a stale one a 412. */
export async function deleteRow<Row extends object>(
  tx: Tx,
  table: RowTable<Row>,
  { id, expected }: RowVersion,
): Promise<void> {
  const deleted = await tx`
    delete from ${tableOf(tx, table)} where id = ${id} and ${matchesVersion(tx, expected)} returning 1`
  if (deleted.length === 0) await refuseMissingOrStale(tx, table.name, id, table.notFound)
}
