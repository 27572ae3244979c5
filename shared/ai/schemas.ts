import { z } from '@hono/zod-openapi'
import { listQuerySchema } from '../core/pages.ts'
import { MessageCreateSchema } from '../chat/schemas.ts'
import {
  ExpectedVersionsSchema,
  FlagSchema,
  listOf,
  MetadataSchema,
  TimestampSchema,
} from '../core/schemas.ts'
import { toolNameSchema, toolNames } from './crew.ts'
import { modelNameSchema, providerIds } from './models.ts'

// The ai function's API: the agent registry (built-in crew and a user's own agents), the model
// catalog, and runs. Schemas are zod with OpenAPI metadata; the verbs validate with them too.

const noNul = (text: string) => !text.includes('\u0000')
const NUL_MESSAGE = 'must not contain NUL characters'
const text = (min: number, max: number) => z.string().trim().min(min).max(max).refine(noNul, NUL_MESSAGE)

/** A built-in agent's id (`planner`) or one of the user's own agents' (a uuid). */
export const AgentIdSchema = z
  .string()
  .regex(
    /^(?:[a-z][a-z0-9_]{0,62}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i,
    'An agent id is a built-in agent’s name (e.g. planner) or a uuid',
  )
  .openapi({ example: 'coordinator' })

export const AgentIdParamsSchema = z.object({
  id: AgentIdSchema.openapi({ param: { name: 'id', in: 'path' } }),
})

export const AgentKindSchema = z.enum(['builtin', 'custom']).openapi('AgentKind')

export const AgentSchema = z
  .object({
    id: z.string().openapi({ description: 'A built-in’s name (e.g. `planner`) or a uuid' }),
    kind: AgentKindSchema,
    name: z.string(),
    description: z.string().nullable(),
    role: z.string(),
    goal: z.string(),
    backstory: z.string().nullable(),
    instructions: z
      .string()
      .nullable()
      .openapi({ description: 'Your instructions to the agent (for a built-in: added to its own)' }),
    tools: z.array(z.string()).openapi({ description: 'The tools the agent may call' }),
    model: z
      .string()
      .nullable()
      .openapi({ description: '`provider:model`; null: the deployment’s default (AI_DEFAULT_MODEL)' }),
    temperature: z.number(),
    enabled: z.boolean(),
    delegates_to: z.array(z.string()).openapi({ description: 'The agents it hands work to' }),
    created_at: TimestampSchema.nullable().openapi({ description: 'Null for a built-in never configured' }),
    updated_at: TimestampSchema.nullable().openapi({
      description: 'Also the ETag; null for a built-in never configured',
    }),
  })
  .openapi('Agent')

const agentFields = {
  name: text(1, 100),
  description: text(0, 1000).nullable(),
  role: text(1, 500),
  goal: text(1, 2000),
  backstory: z.string().max(8000).refine(noNul, NUL_MESSAGE).nullable(),
  instructions: z.string().max(8000).refine(noNul, NUL_MESSAGE).nullable(),
  tools: z
    .array(toolNameSchema)
    .max(toolNames.length)
    .refine((tools) => new Set(tools).size === tools.length, 'must not repeat a tool')
    .openapi({ type: 'array', items: { type: 'string', enum: [...toolNames] } }),
  model: modelNameSchema.nullable().openapi({ type: ['string', 'null'], example: 'openai:gpt-4.1-mini' }),
  temperature: z.number().min(0).max(2).nullable(),
  enabled: z.boolean(),
}

/** A user's own agent: who it is (name, role, goal), how it works (backstory, instructions, tools, model). */
export const AgentCreateSchema = z
  .strictObject({
    ...agentFields,
    description: agentFields.description.default(null),
    backstory: agentFields.backstory.default(null),
    instructions: agentFields.instructions.default(null),
    tools: agentFields.tools.default([]),
    model: agentFields.model.default(null),
    temperature: agentFields.temperature.default(null),
    enabled: agentFields.enabled.default(true),
  })
  .openapi('AgentCreate')

/** What a built-in agent lets a user change. */
export const BUILTIN_SETTINGS = ['model', 'temperature', 'instructions', 'enabled'] as const

/**
 * A partial update: only the fields given change. A built-in agent takes only model, temperature,
 * instructions and enabled (null puts a setting back to the built-in's own).
 */
export const AgentUpdateSchema = z.strictObject(agentFields).partial().openapi('AgentUpdate')

export const AgentChangeSchema = z.object({
  id: AgentIdSchema,
  changes: AgentUpdateSchema,
  expected: ExpectedVersionsSchema,
})

export const AgentVersionSchema = z.object({ id: AgentIdSchema, expected: ExpectedVersionsSchema })

export const AgentListQuerySchema = listQuerySchema.extend({
  kind: AgentKindSchema.optional().openapi({ description: 'Only built-in or only your own agents' }),
  enabled: FlagSchema.optional().openapi({ description: 'Only enabled (true) or disabled (false) agents' }),
})

export const AgentGetSchema = z.object({ id: AgentIdSchema })

export const ProviderIdSchema = z.enum(providerIds).openapi('ProviderId')

export const ModelCatalogSchema = z
  .object({
    default_model: z.string().nullable().openapi({ description: 'What agents use unless they name a model' }),
    fallback_models: z.array(z.string()).openapi({ description: 'Tried in order when a model is down' }),
    providers: z.array(
      z.object({
        id: ProviderIdSchema,
        name: z.string(),
        configured: z.boolean(),
        variables: z
          .array(z.string())
          .openapi({ description: 'The environment variables that configure it' }),
        models: z.array(z.string()).openapi({ description: 'Models named for it in this deployment' }),
      }),
    ),
  })
  .openapi('ModelCatalog')

export type Agent = z.infer<typeof AgentSchema>
export type AgentCreate = z.infer<typeof AgentCreateSchema>
export type AgentUpdate = z.infer<typeof AgentUpdateSchema>

export const RUN_STATUSES = [
  'queued',
  'running',
  'awaiting_approval',
  'succeeded',
  'failed',
  'cancelled',
] as const
export const RunStatusSchema = z.enum(RUN_STATUSES).openapi('RunStatus')

/**
 * Why a run failed: an API error code, or `timeout` (the run's wall-clock limit), `interrupted` (cut
 * off); or why it was cancelled without a user asking: `approval_expired`.
 */
export const RunErrorSchema = z
  .object({ code: z.string(), message: z.string() })
  .openapi('RunError', { example: { code: 'provider_unavailable', message: 'Set OPENAI_API_KEY' } })

export const RunSchema = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    conversation_id: z.uuid(),
    trigger_message_id: z.uuid().nullable().openapi({ description: 'The user message the run answers' }),
    agent_id: z.string(),
    model: z.string().nullable().openapi({ description: 'The model that answered (or was last tried)' }),
    status: RunStatusSchema,
    usage: z.record(z.string(), z.object({ input_tokens: z.number(), output_tokens: z.number() })).openapi({
      description: 'Tokens per model',
      example: { 'openai:gpt-4.1-mini': { input_tokens: 812, output_tokens: 95 } },
    }),
    error: RunErrorSchema.nullable(),
    created_at: TimestampSchema.openapi({ description: 'When it was queued' }),
    started_at: TimestampSchema.nullable(),
    finished_at: TimestampSchema.nullable(),
    undone_at: TimestampSchema.nullable().openapi({
      description: 'When the run’s changes were taken back (POST ai/runs/{id}/undo); null if never',
    }),
    updated_at: TimestampSchema.openapi({ description: 'Also the ETag (If-Match of an undo)' }),
  })
  .openapi('Run')

export const RunStepSchema = z
  .object({
    id: z.uuid().openapi({ description: 'A tool call’s id is the `step_id` of the changes it made' }),
    position: z.number().int(),
    kind: z.enum(['context', 'model_call', 'tool_call', 'delegation']),
    name: z.string().openapi({ description: 'The model, the tool or the agent delegated to' }),
    agent_id: z.string(),
    input: z.record(z.string(), z.unknown()),
    output: z.record(z.string(), z.unknown()),
    error: RunErrorSchema.nullable(),
    usage: z.record(z.string(), z.unknown()).nullable(),
    started_at: TimestampSchema,
    finished_at: TimestampSchema,
  })
  .openapi('RunStep')

export const RUN_ACTION_TABLES = ['notes', 'tasks', 'goals', 'reflections'] as const
export const RUN_ACTION_OPERATIONS = ['insert', 'update', 'delete'] as const

/** One change an agent made in a run: a row of one of the user's tables, before and after (ADR 0029). */
export const RunActionSchema = z
  .object({
    id: z.uuid(),
    step_id: z.uuid().nullable().openapi({ description: 'The tool call that made it (the step’s id)' }),
    table_name: z.enum(RUN_ACTION_TABLES),
    row_id: z.uuid(),
    operation: z.enum(RUN_ACTION_OPERATIONS),
    before: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'The row as it was; null for an insert' }),
    after: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'The row as the agent left it; null for a delete' }),
    created_at: TimestampSchema,
    undone_at: TimestampSchema.nullable().openapi({ description: 'When an undo took it back' }),
  })
  .openapi('RunAction')

/** `POST ai/runs/{id}/undo`'s body. */
export const RunUndoBodySchema = z
  .strictObject({
    force: z.boolean().default(false).openapi({
      description:
        'Skip the rows changed since the run changed them (and report them) instead of refusing with 409',
    }),
  })
  .openapi('RunUndo')

export const RunUndoInputSchema = RunUndoBodySchema.extend({
  id: z.uuid(),
  expected: ExpectedVersionsSchema,
})

/** A change an undo did not take back, and why. */
export const RunUndoSkipSchema = z
  .object({
    action_id: z.uuid(),
    table_name: z.enum(RUN_ACTION_TABLES),
    row_id: z.uuid(),
    operation: z.enum(RUN_ACTION_OPERATIONS),
    reason: z.string(),
  })
  .openapi('RunUndoSkip')

export const RunUndoResultSchema = z
  .object({
    run: RunSchema,
    reverted: z.array(RunActionSchema).openapi({ description: 'The changes taken back, newest first' }),
    skipped: z
      .array(RunUndoSkipSchema)
      .openapi({ description: 'With force: the changes left as they are, because their rows changed since' }),
    already_undone: z.boolean().openapi({ description: 'The run had been undone before: nothing to undo' }),
  })
  .openapi('RunUndoResult')

export const APPROVAL_REASONS = ['delete', 'bulk', 'write'] as const

/** A change an agent proposes and the user approves or refuses (ADR 0030); its id is the action id. */
export const ApprovalSchema = z
  .object({
    action_id: z.uuid().openapi({ description: 'The id of the tool-call step that proposes the change' }),
    tool: z.string(),
    agent_id: z.string(),
    arguments: z
      .record(z.string(), z.unknown())
      .openapi({ description: 'What the model called the tool with' }),
    reason: z.enum(APPROVAL_REASONS).openapi({
      description:
        'Why it needs approval: delete (it deletes), bulk (more than 10 rows), write (`ai.approval` is always)',
    }),
    summary: z
      .string()
      .openapi({ description: 'The change in a sentence', example: 'Delete the task “File taxes”' }),
    change: z
      .object({
        operation: z.enum(['create', 'update', 'delete']),
        table: z.enum(['tasks', 'notes', 'goals', 'reflections']),
        count: z.number().int().openapi({ description: 'How many rows it would change' }),
        rows: z
          .array(z.object({ id: z.uuid().nullable(), title: z.string().nullable() }))
          .openapi({ description: 'The rows it would touch (id null for a row it would create)' }),
        fields: z.record(z.string(), z.unknown()).optional().openapi({ description: 'What an update sets' }),
      })
      .openapi('ProposedChange'),
    decision: z.enum(['approved', 'refused']).nullable(),
    note: z.string().nullable(),
    decided_at: TimestampSchema.nullable(),
    outcome: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'What running it answered: {ok, result} or {ok: false, error}' }),
    created_at: TimestampSchema,
  })
  .openapi('Approval')

export const RunWithStepsSchema = RunSchema.extend({
  steps: z.array(RunStepSchema),
  approvals: z
    .array(ApprovalSchema)
    .openapi({ description: 'The changes it proposed for approval, in order' }),
  approval_expires_at: TimestampSchema.nullable().openapi({
    description: 'While awaiting approval: when it expires (AI_APPROVAL_TTL_SECONDS after it began to wait)',
  }),
  actions: z.array(RunActionSchema).openapi({
    description: 'Every change the run’s agents made to notes, tasks, goals and reflections, in order',
  }),
}).openapi('RunWithSteps')

export const ApprovalDecisionSchema = z
  .strictObject({
    action_id: z.uuid().openapi({ description: 'A pending action of the run (approvals[].action_id)' }),
    approve: z.boolean(),
    note: z
      .string()
      .trim()
      .max(2000)
      .refine(noNul, NUL_MESSAGE)
      .optional()
      .openapi({ description: 'Why, for the agent (it reads a refusal’s note)' }),
  })
  .openapi('ApprovalDecision')

/** The decisions on every change a run awaits, one each. */
export const ApprovalDecisionsSchema = z
  .strictObject({
    decisions: z
      .array(ApprovalDecisionSchema)
      .min(1)
      .max(100)
      .refine((decisions) => new Set(decisions.map((d) => d.action_id)).size === decisions.length, {
        message: 'Decide each action once',
      }),
  })
  .openapi('ApprovalDecisions')

export const RunApprovalInputSchema = z.object({
  id: z.uuid(),
  decisions: ApprovalDecisionsSchema.shape.decisions,
})

/** A user message's text, as chat takes it. */
const ContentSchema = MessageCreateSchema.shape.content

/**
 * Starts a run: the user's message to a conversation, answered by an agent (by default the
 * coordinator). The body `useChat` sends (`{id, messages}`, @ai-sdk/react) is taken too: its `id` is the
 * conversation and its last user message the content.
 */
export const RunCreateSchema = z
  .preprocess(
    fromChatTransport,
    z
      .strictObject({
        conversation_id: z.uuid(),
        agent_id: AgentIdSchema.nullable()
          .default(null)
          .openapi({ description: 'The agent to answer; null: the coordinator' }),
        content: ContentSchema.optional(),
        message_id: z.uuid().optional().openapi({
          description:
            'Answer this stored user message instead of storing `content` (the chat function’s hand-off)',
        }),
        metadata: MetadataSchema.default({}),
      })
      .refine((run) => (run.content === undefined) !== (run.message_id === undefined), {
        message: 'Give either content or message_id',
        path: ['content'],
      }),
  )
  .openapi('RunCreate', {
    type: 'object',
    required: ['conversation_id'],
    properties: {
      conversation_id: { type: 'string', format: 'uuid' },
      agent_id: { type: ['string', 'null'], description: 'The agent to answer; null: the coordinator' },
      content: { type: 'string', description: 'The user’s message (or give message_id)' },
      message_id: { type: 'string', format: 'uuid', description: 'A stored user message to answer' },
      metadata: { type: 'object' },
    },
  } as never)

/** `useChat`'s request (`{id, messages: [...], trigger, messageId}`) as a run's input; any other body as is. */
function fromChatTransport(body: unknown): unknown {
  if (!body || typeof body !== 'object' || !Array.isArray((body as { messages?: unknown }).messages))
    return body
  const {
    id,
    messages,
    trigger: _trigger,
    messageId: _messageId,
    ...rest
  } = body as Record<string, unknown> & {
    messages: Array<{ role?: string; parts?: Array<{ type?: string; text?: string }> }>
  }
  const last = [...messages].reverse().find((message) => message?.role === 'user')
  const content = (last?.parts ?? [])
    .filter((part) => part?.type === 'text' && typeof part.text === 'string')
    .map((part) => part.text)
    .join('')
  return { conversation_id: rest.conversation_id ?? id, ...rest, content }
}

export const RunListQuerySchema = listQuerySchema.extend({
  conversation_id: z.uuid().optional().openapi({ description: 'Only this conversation’s runs' }),
  status: listOf(RunStatusSchema).optional().openapi({ description: 'One or more statuses' }),
})

export const RunIdInputSchema = z.object({ id: z.uuid() })

export type Run = z.infer<typeof RunSchema>
export type RunStep = z.infer<typeof RunStepSchema>
export type Approval = z.infer<typeof ApprovalSchema>
export type RunApprovalInput = z.infer<typeof RunApprovalInputSchema>
export type RunAction = z.infer<typeof RunActionSchema>
export type RunUndoSkip = z.infer<typeof RunUndoSkipSchema>
export type RunUndoResult = z.infer<typeof RunUndoResultSchema>
export type RunCreate = z.infer<typeof RunCreateSchema>
