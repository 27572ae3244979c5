import { z } from '@hono/zod-openapi'
import { jsonParam } from '../domain/columns.ts'
import { type ServiceContext, withUser } from '../db/with-user.ts'
import { readCursor } from '../domain/cursor.ts'
import { deleteRow, getRow, type RowVersion, rowTable } from '../domain/rows.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { page } from '../http/pagination.ts'
import type { Reflection, ReflectionCreate, ReflectionListQuery } from './schemas.ts'

export const REFLECTION_COLUMNS = [
  'id',
  'user_id',
  'reflection_type',
  'title',
  'content',
  'mood',
  'metadata',
  'created_at',
  'updated_at',
] as const

const REFLECTIONS = rowTable<Reflection>('reflections', REFLECTION_COLUMNS, 'No such reflection')

/** Newest first: after (created_at, id), descending. */
const ListPosition = z.tuple([TimestampSchema, z.uuid()])

const isDate = (bound: string) => /^\d{4}-\d\d-\d\d$/.test(bound)

export async function listReflections({ ctx, input }: { ctx: ServiceContext; input: ReflectionListQuery }) {
  const after = readCursor(input.cursor, ListPosition)
  const { from, to } = input
  const rows = await withUser(
    ctx.claims,
    (tx) => tx<Reflection[]>`
      select ${tx(REFLECTION_COLUMNS)} from public.reflections
      where user_id = ${ctx.userId}
        ${input.reflection_type ? tx`and reflection_type = any(${input.reflection_type}::public.reflection_type[])` : tx``}
        ${from === undefined ? tx`` : isDate(from) ? tx`and created_at >= (${from}::date)::timestamp at time zone 'UTC'` : tx`and created_at >= ${from}::timestamptz`}
        ${to === undefined ? tx`` : isDate(to) ? tx`and created_at < (${to}::date + 1)::timestamp at time zone 'UTC'` : tx`and created_at <= ${to}::timestamptz`}
        ${after ? tx`and (created_at, id) < (${after[0]}::timestamptz, ${after[1]}::uuid)` : tx``}
      order by created_at desc, id desc
      limit ${input.limit + 1}`,
    ctx.tx,
  )
  return page(rows, input.limit, (row) => [row.created_at, row.id])
}

export async function getReflection({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: { id: string }
}): Promise<Reflection> {
  return getRow(ctx, REFLECTIONS, input.id)
}

export async function createReflection({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: ReflectionCreate
}): Promise<Reflection> {
  const [row] = await withUser(
    ctx.claims,
    (tx) => tx<Reflection[]>`
      insert into public.reflections (user_id, reflection_type, title, content, mood, metadata)
      values (${ctx.userId}, ${input.reflection_type}, ${input.title}, ${input.content}, ${input.mood},
              ${jsonParam(tx, input.metadata)})
      returning ${tx(REFLECTION_COLUMNS)}`,
    ctx.tx,
  )
  return row
}

export async function deleteReflection({
  ctx,
  input,
}: {
  ctx: ServiceContext
  input: RowVersion
}): Promise<void> {
  await withUser(ctx.claims, (tx) => deleteRow(tx, REFLECTIONS, input), ctx.tx)
}
