import { z } from '@hono/zod-openapi'
import { jsonParam } from '../domain/columns.ts'
import { type ServiceContext, withUser } from '../db/with-user.ts'
import { readCursor } from '../domain/cursor.ts'
import { TimestampSchema } from '../domain/schemas.ts'
import { matchesVersion, refuseMissingOrStale } from '../http/concurrency.ts'
import { NotFoundError } from '../http/errors.ts'
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

const reflectionNotFound = () => new NotFoundError('No such reflection')

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
  const [row] = await withUser(
    ctx.claims,
    (tx) => tx<Reflection[]>`select ${tx(REFLECTION_COLUMNS)} from public.reflections where id = ${input.id}`,
    ctx.tx,
  )
  if (!row) throw reflectionNotFound()
  return row
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
  input: { id: string; expected?: string[] }
}): Promise<void> {
  await withUser(
    ctx.claims,
    async (tx) => {
      const deleted = await tx`
        delete from public.reflections where id = ${input.id} and ${matchesVersion(tx, input.expected)} returning 1`
      if (deleted.length === 0) await refuseMissingOrStale(tx, 'reflections', input.id, reflectionNotFound)
    },
    ctx.tx,
  )
}
