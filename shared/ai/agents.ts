import { z } from '@hono/zod-openapi'
import type { ServiceContext, Tx } from '../core/context.ts'
import { ConflictError, NotFoundError, PreconditionFailedError, ValidationError } from '../core/errors.ts'
import { page, readCursor } from '../core/pages.ts'
import { TimestampSchema } from '../core/schemas.ts'
import { defineVerb } from '../core/verb.ts'
import { type ColumnValue, columnValues, givenColumns } from '../db/columns.ts'
import { withRules } from '../db/rules.ts'
import { withUser, withUserStatement } from '../db/with-user.ts'
import { type AgentDefinition, builtinAgent, crew, type ToolName } from './crew.ts'
import {
  type Agent,
  AgentChangeSchema,
  AgentCreateSchema,
  AgentGetSchema,
  AgentListQuerySchema,
  AgentVersionSchema,
  BUILTIN_SETTINGS,
} from './schemas.ts'

// The agent registry (ADR 0019): the built-in crew is code, a user's settings of it and their own
// agents are rows of public.agents. A built-in's id is its name (`planner`), a user's agent's a uuid.

/** A user's own agent's temperature when they set none. */
export const CUSTOM_AGENT_TEMPERATURE = 0.3

interface AgentRow {
  id: string
  builtin_id: string | null
  name: string | null
  description: string | null
  role: string | null
  goal: string | null
  backstory: string | null
  instructions: string | null
  tools: string[]
  model: string | null
  temperature: number | null
  enabled: boolean
  created_at: string
  updated_at: string
}

const AGENT_SELECT = `id, builtin_id, name, description, role, goal, backstory, instructions, tools, model,
  temperature::float8 as temperature, enabled, created_at, updated_at`
const agentColumns = (tx: Tx) => tx.unsafe(AGENT_SELECT)

const agentNotFound = () => new NotFoundError('No such agent')
const isUuid = (id: string) => z.uuid().safeParse(id).success

/** A built-in agent as this user has set it up (or as shipped, without a row). */
function builtinView(definition: AgentDefinition, row?: AgentRow): Agent {
  return {
    id: definition.id,
    kind: 'builtin',
    name: definition.name,
    description: definition.description,
    role: definition.role,
    goal: definition.goal,
    backstory: definition.backstory,
    instructions: row?.instructions ?? null,
    tools: [...definition.tools],
    model: row?.model ?? definition.defaultModel,
    temperature: row?.temperature ?? definition.temperature,
    enabled: row?.enabled ?? true,
    delegates_to: [...definition.delegatesTo],
    created_at: row?.created_at ?? null,
    updated_at: row?.updated_at ?? null,
  }
}

function customView(row: AgentRow): Agent {
  return {
    id: row.id,
    kind: 'custom',
    name: row.name ?? '',
    description: row.description,
    role: row.role ?? '',
    goal: row.goal ?? '',
    backstory: row.backstory,
    instructions: row.instructions,
    tools: row.tools,
    model: row.model,
    temperature: row.temperature ?? CUSTOM_AGENT_TEMPERATURE,
    enabled: row.enabled,
    delegates_to: [],
    created_at: row.created_at,
    updated_at: row.updated_at,
  }
}

const rules = {
  agents_user_id_name_key: () => new ConflictError('You already have an agent of this name'),
}

/** Built-ins list first, in the crew's order; then the user's own, oldest first. */
const ListPosition = z.union([
  z.tuple([z.literal(0), z.number().int().min(0)]),
  z.tuple([z.literal(1), TimestampSchema, z.uuid()]),
])

/** The built-in crew as the user has set it up, and the user's own agents. */
export const listAgents = defineVerb('agents.list', AgentListQuerySchema, async ({ ctx, input }) => {
  const after = readCursor(input.cursor, ListPosition)
  const afterBuiltin = after?.[0] === 0 ? after[1] : after ? Number.POSITIVE_INFINITY : -1
  const afterCustom = after?.[0] === 1 ? after : undefined
  const rows = await withUserStatement(
    ctx,
    (tx) => tx<AgentRow[]>`
      select ${agentColumns(tx)} from public.agents
      where user_id = ${ctx.userId}
        and (builtin_id is not null or (
          true ${afterCustom ? tx`and (created_at, id) > (${afterCustom[1]}::timestamptz, ${afterCustom[2]}::uuid)` : tx``}
          ${input.enabled === undefined ? tx`` : tx`and enabled = ${input.enabled}`}))
      order by builtin_id nulls last, created_at, id`,
    ctx.tx,
  )
  const settings = new Map(rows.filter((row) => row.builtin_id).map((row) => [row.builtin_id, row]))
  const entries: Array<{ agent: Agent; position: Array<string | number> }> = []
  if (input.kind !== 'custom') {
    crew.forEach((definition, index) => {
      if (index <= afterBuiltin) return
      const agent = builtinView(definition, settings.get(definition.id))
      if (input.enabled === undefined || agent.enabled === input.enabled)
        entries.push({ agent, position: [0, index] })
    })
  }
  if (input.kind !== 'builtin') {
    for (const row of rows.filter((candidate) => !candidate.builtin_id))
      entries.push({ agent: customView(row), position: [1, row.created_at, row.id] })
  }
  const listed = page(entries.slice(0, input.limit + 1), input.limit, (entry) => entry.position)
  return { data: listed.data.map((entry) => entry.agent), next_cursor: listed.next_cursor }
})

async function selectAgent(tx: Tx, userId: string, id: string): Promise<Agent> {
  const definition = builtinAgent(id)
  if (definition) {
    const [row] = await tx<AgentRow[]>`
      select ${agentColumns(tx)} from public.agents where user_id = ${userId} and builtin_id = ${id}`
    return builtinView(definition, row)
  }
  if (!isUuid(id)) throw agentNotFound()
  const [row] = await tx<AgentRow[]>`
    select ${agentColumns(tx)} from public.agents where id = ${id} and builtin_id is null`
  if (!row) throw agentNotFound()
  return customView(row)
}

export const getAgent = defineVerb('agents.get', AgentGetSchema, ({ ctx, input }) =>
  withUser(ctx, (tx) => selectAgent(tx, ctx.userId, input.id), ctx.tx),
)

/** The agent a run uses, as the user set it up; a disabled or unknown one is refused. */
export async function agentForRun(ctx: ServiceContext, tx: Tx, id: string): Promise<Agent> {
  const agent = await selectAgent(tx, ctx.userId, id)
  if (!agent.enabled) throw new ConflictError(`The agent ${agent.name} is disabled`)
  return agent
}

export const createAgent = defineVerb('agents.create', AgentCreateSchema, async ({ ctx, input }) => {
  const [row] = await withRules(rules, () =>
    withUserStatement(
      ctx,
      (tx) => tx<AgentRow[]>`
        insert into public.agents (user_id, name, description, role, goal, backstory, instructions, tools, model,
                                   temperature, enabled)
        values (${ctx.userId}, ${input.name}, ${input.description}, ${input.role}, ${input.goal}, ${input.backstory},
                ${input.instructions}, ${input.tools}::text[], ${input.model}, ${input.temperature}, ${input.enabled})
        returning ${agentColumns(tx)}`,
      ctx.tx,
    ),
  )
  return customView(row)
})

const versionMatches = (row: { updated_at: string } | undefined, expected: string[] | undefined) =>
  expected === undefined || (row !== undefined && expected.includes(row.updated_at))

const stale = () => new PreconditionFailedError('The agent has changed since it was read (If-Match)')

/**
 * Changes the fields given. A built-in takes only its settings (model, temperature, instructions,
 * enabled; null puts one back to the built-in's own); its row is made on its first change.
 */
export const updateAgent = defineVerb('agents.update', AgentChangeSchema, async ({ ctx, input }) => {
  const { id, changes, expected } = input
  const definition = builtinAgent(id)
  if (definition) {
    const identity = givenColumns(changes).filter(
      (column) => !(BUILTIN_SETTINGS as readonly string[]).includes(column),
    )
    if (identity.length > 0) {
      throw new ValidationError(
        identity.map((column) => ({
          path: column,
          message: `A built-in agent’s ${column} cannot be changed; only ${BUILTIN_SETTINGS.join(', ')}`,
        })),
      )
    }
  } else if (!isUuid(id)) throw agentNotFound()
  return withRules(rules, () =>
    withUser(
      ctx,
      async (tx) => {
        if (definition) {
          const [current] = await tx<AgentRow[]>`
            select ${agentColumns(tx)} from public.agents
            where user_id = ${ctx.userId} and builtin_id = ${id} for update`
          if (!versionMatches(current, expected)) throw stale()
          const columns = givenColumns(changes)
          if (columns.length === 0) return builtinView(definition, current)
          const values = columnValues(tx, changes)
          const [row] = current
            ? await tx<AgentRow[]>`
                update public.agents set ${tx(values, columns)} where id = ${current.id}
                returning ${agentColumns(tx)}`
            : await tx<AgentRow[]>`
                insert into public.agents ${tx(
                  { user_id: ctx.userId, builtin_id: id, ...values } as Record<string, ColumnValue>,
                  ['user_id', 'builtin_id', ...columns],
                )}
                returning ${agentColumns(tx)}`
          return builtinView(definition, row)
        }
        const [current] = await tx<AgentRow[]>`
          select ${agentColumns(tx)} from public.agents where id = ${id} and builtin_id is null for update`
        if (!current) throw agentNotFound()
        if (!versionMatches(current, expected)) throw stale()
        const { tools, ...rest } = changes
        const values = columnValues(tx, rest)
        // text[] is not JSON: the array goes as a parameter of its own type.
        if (tools !== undefined) values.tools = tx.array(tools)
        const columns = Object.keys(values)
        if (columns.length === 0) return customView(current)
        const [row] = await tx<AgentRow[]>`
          update public.agents set ${tx(values, columns)} where id = ${id}
          returning ${agentColumns(tx)}`
        return customView(row)
      },
      ctx.tx,
    ),
  )
})

/** Deletes one of the user's own agents; a built-in cannot be deleted (disable it instead): 409. */
export const deleteAgent = defineVerb('agents.delete', AgentVersionSchema, async ({ ctx, input }) => {
  if (builtinAgent(input.id)) {
    throw new ConflictError('A built-in agent cannot be deleted; turn it off with PUT {"enabled": false}')
  }
  if (!isUuid(input.id)) throw agentNotFound()
  await withUser(
    ctx,
    async (tx) => {
      const [current] = await tx<{ updated_at: string }[]>`
        select updated_at from public.agents where id = ${input.id} and builtin_id is null for update`
      if (!current) throw agentNotFound()
      if (!versionMatches(current, input.expected)) throw stale()
      await tx`delete from public.agents where id = ${input.id}`
    },
    ctx.tx,
  )
})

/** The tools an agent may call, as names. */
export const agentTools = (agent: Agent): ToolName[] => agent.tools as ToolName[]
