import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
  ToolMessage,
} from '@langchain/core/messages'
import { ToolInputParsingException, tool } from '@langchain/core/tools'
import { z } from 'zod'
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import type { ServiceContext } from '../core/context.ts'
import { DomainError, toDomainError } from '../core/errors.ts'
import { withUser } from '../db/with-user.ts'
import { streamChat } from './chat.ts'
import type { ToolName } from './crew.ts'
import { getAgent } from './agents.ts'
import { knowledgeQuery, loadRunContext, runQuestion } from './context.ts'
import { loadRunLimits } from './limits.ts'
import { resolveModels } from './models.ts'
import {
  agentActor,
  failRun,
  finishRun,
  heartbeat,
  insertStep,
  markRunning,
  RunCancelled,
  recordStep,
  type StepRecord,
  type Usage,
  workingHere,
} from './runs.ts'
import type { Agent, Run } from './schemas.ts'
import type { RunSink } from './sinks.ts'
import { agentTools, langchainTools, outcomeText, parametersOf, type ToolOutcome } from './tools.ts'

// One run's work (ADR 0024): a LangGraph graph of a model node (streamChat: timeouts, fallbacks,
// cancellation) and a tools node (the service verbs as the agent), bounded in model calls, tool
// calls and time. Nothing here holds a transaction across a model call: each write (a step, a tool's
// verb, the answer) is a short transaction of its own.

export class RunTimeout extends Error {
  constructor(readonly ms: number) {
    super(`The run took longer than its limit of ${Math.round(ms / 1000)} s`)
    this.name = 'RunTimeout'
  }
}

/** The coordinator's tool that hands a task to a specialist (only the coordinator delegates: no loops). */
export const DELEGATE_TOOL = 'delegate'

const DelegationSchema = z.object({
  agent_id: z.string().describe('The specialist to hand the task to'),
  task: z.string().min(1).max(4000).describe('What the specialist should do, with what it needs to know'),
})

/** The delegation tool an agent gets if it delegates, listing whom it may hand work to. */
function delegationTools(agent: Agent) {
  if (agent.delegates_to.length === 0) return []
  const schema = DelegationSchema.extend({
    agent_id: z
      .enum(agent.delegates_to as [string, ...string[]])
      .describe('The specialist to hand the task to'),
  })
  return [
    tool(async () => '', {
      name: DELEGATE_TOOL,
      description: `Hand a task to a specialist of your crew (${agent.delegates_to.join(', ')}); you get back what it did`,
      schema: parametersOf(schema),
    }),
  ]
}

export interface RunJob {
  /** The user's context (their verified claims); the agent's context is made from it. */
  ctx: ServiceContext
  run: Run
  agent: Agent
  sink: RunSink
  /** Cancels the run from outside (e.g. the SSE client went away). */
  signal?: AbortSignal
  /** The text of the message the run answers, when the caller has it (else it is read). */
  question?: string
}

/** A message's text within the messages table's 32 KiB. */
function storable(text: string, maxBytes = 32 * 1024): string {
  const bytes = new TextEncoder().encode(text)
  if (bytes.length <= maxBytes) return text
  return `${new TextDecoder().decode(bytes.slice(0, maxBytes - 64)).replace(/\uFFFD$/, '')}\n\n… (cut at 32 KiB)`
}

const addUsage = (usage: Usage, model: string, input = 0, output = 0) => {
  const so = usage[model] ?? { input_tokens: 0, output_tokens: 0 }
  usage[model] = { input_tokens: so.input_tokens + input, output_tokens: so.output_tokens + output }
}

/** What a failure is to the client: its API code and message; our own bugs are `internal`. */
function runError(error: unknown, signal: AbortSignal): { code: string; message: string } {
  if (signal.reason instanceof RunTimeout) return { code: 'timeout', message: signal.reason.message }
  const known = error instanceof DomainError ? error : toDomainError(error)
  if (known && known.code !== 'internal') return { code: known.code, message: known.message }
  console.error(
    JSON.stringify({ level: 'error', run: 'failed', error: String(error), stack: (error as Error)?.stack }),
  )
  return { code: 'internal', message: 'Something went wrong on our side' }
}

/**
 * Works a queued run to its end: marks it running, streams the agent's answer to the sinks, lets
 * the agent call its tools, stores the answer and ends the run (succeeded, cancelled with the
 * partial answer kept, or failed with a code). Never throws: every failure ends the run.
 */
export async function executeRun(job: RunJob): Promise<void> {
  const { ctx, run, agent, sink } = job
  const limits = loadRunLimits()
  const controller = new AbortController()
  const signal = controller.signal
  const forget = workingHere(run.id, controller)
  const deadline = setTimeout(
    () => controller.abort(new RunTimeout(limits.runTimeoutMs)),
    limits.runTimeoutMs,
  )
  const onOuterAbort = () => controller.abort(new RunCancelled())
  job.signal?.addEventListener('abort', onOuterAbort, { once: true })
  let beating: ReturnType<typeof setInterval> | undefined
  const usage: Usage = {}
  let answer = ''
  let model: string | null = null
  let position = 0
  let running = false
  try {
    const models = resolveModels(agent.model ?? undefined)
    model = models[0].name
    // The user's message embedded for the knowledge in its context: before any transaction opens.
    const knowledge = await knowledgeQuery(job.question ?? (await runQuestion(ctx, run)))
    // One short transaction before the first model call: running, the context, its step.
    const context = await withUser(ctx, async (tx) => {
      running = await markRunning(ctx, run.id, model, tx)
      if (!running) return undefined
      const startedAt = new Date()
      const loaded = await loadRunContext(ctx, agent, run.conversation_id, tx, knowledge)
      await insertStep(tx, ctx.userId, run.id, {
        position: position++,
        kind: 'context',
        name: 'context',
        agentId: agent.id,
        input: loaded.included,
        startedAt,
        finishedAt: new Date(),
      })
      return loaded
    })
    // Cancelled before it started: nothing to do, the run is already a record.
    if (!context) return
    beating = setInterval(() => {
      heartbeat(ctx, run.id).then(
        (alive) => {
          if (!alive) controller.abort(new RunCancelled())
        },
        () => {},
      )
    }, limits.heartbeatMs)
    sink.started({ agent_id: agent.id, model, trigger_message_id: run.trigger_message_id })

    let modelCalls = 0
    let toolCalls = 0
    let stoppedAtLimit = false

    /**
     * One agent's turn: its model and tools in a graph, until it answers. The agent the user talks
     * to speaks (its text streams to the sinks and becomes the answer); a specialist it delegates
     * to works quietly and its answer goes back to the coordinator as the delegation's result. The
     * run's budget of model and tool calls is shared by both.
     */
    const work = async (current: Agent, system: string, history: BaseMessage[], speaking: boolean) => {
      const agentCtx = agentActor(ctx, run.id, current.id, run.trigger_message_id)
      const names = current.tools.filter((name): name is ToolName => name in agentTools)
      const tools = [...langchainTools(agentCtx, names), ...delegationTools(current)]
      const byName = new Map<string, (typeof tools)[number]>(tools.map((lcTool) => [lcTool.name, lcTool]))
      let said = ''

      const callModel = async (state: { messages: BaseMessage[] }) => {
        modelCalls++
        const started = new Date()
        const stream = streamChat({
          messages: [new SystemMessage(system), ...state.messages],
          model: current.model ?? undefined,
          tools: tools.length ? tools : undefined,
          temperature: current.temperature,
          timeoutMs: limits.modelTimeoutMs,
          maxRetries: limits.maxRetries,
          signal,
        })
        let separated = said.length === 0
        for (;;) {
          const step = await stream.next()
          if (step.done) {
            const result = step.value
            if (speaking) model = result.model
            addUsage(usage, result.model, result.usage?.input_tokens, result.usage?.output_tokens)
            const toolCallsAsked = result.message.tool_calls ?? []
            await recordStep(ctx, run.id, {
              position: position++,
              kind: 'model_call',
              name: result.model,
              agentId: current.id,
              input: { failed: result.failed },
              output: {
                text_chars: result.message.text.length,
                tool_calls: toolCallsAsked.map((call) => call.name),
              },
              usage: result.usage
                ? { input_tokens: result.usage.input_tokens, output_tokens: result.usage.output_tokens }
                : null,
              startedAt: started,
              finishedAt: new Date(),
            })
            return {
              messages: [
                new AIMessage({
                  content: result.message.text,
                  tool_calls: toolCallsAsked,
                  id: result.message.id,
                }),
              ],
            }
          }
          const delta = step.value.text
          if (delta) {
            // A new model call's text starts a new paragraph of the one answer.
            const piece = separated ? delta : `\n\n${delta}`
            separated = true
            said += piece
            if (speaking) {
              answer += piece
              sink.text(piece)
            }
          }
        }
      }

      const callTools = async (state: { messages: BaseMessage[] }) => {
        const last = state.messages[state.messages.length - 1] as AIMessage
        const results: ToolMessage[] = []
        for (const call of last.tool_calls ?? []) {
          signal.throwIfAborted()
          const id = call.id ?? crypto.randomUUID()
          const started = new Date()
          sink.toolCall({ id, name: call.name, args: call.args, agent_id: current.id })
          let outcome: ToolOutcome
          const lcTool = byName.get(call.name)
          if (!lcTool) {
            outcome = {
              ok: false,
              error: { code: 'not_found', message: `There is no tool named ${call.name}` },
            }
          } else if (toolCalls >= limits.maxToolCalls) {
            outcome = {
              ok: false,
              error: {
                code: 'limit_reached',
                message: `A run may call at most ${limits.maxToolCalls} tools; answer now`,
              },
            }
          } else if (call.name === DELEGATE_TOOL) {
            toolCalls++
            outcome = await delegate(current, call.args)
          } else {
            toolCalls++
            try {
              const message = (await lcTool.invoke(
                { ...call, id, type: 'tool_call' },
                { signal },
              )) as unknown as ToolMessage
              outcome = message.artifact as ToolOutcome
            } catch (error) {
              if (signal.aborted) throw error
              if (!(error instanceof ToolInputParsingException)) throw error
              outcome = { ok: false, error: { code: 'validation_failed', message: error.message } }
            }
          }
          const content = outcomeText(outcome, 10_000)
          sink.toolResult({
            id,
            name: call.name,
            ok: outcome.ok,
            ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
          })
          const step: StepRecord = {
            position: position++,
            kind: call.name === DELEGATE_TOOL ? 'delegation' : 'tool_call',
            name: call.name === DELEGATE_TOOL ? String(call.args?.agent_id ?? DELEGATE_TOOL) : call.name,
            agentId: current.id,
            input: { tool_call_id: id, arguments: call.args },
            output: outcome.ok ? { result: outcome.result ?? null } : {},
            error: outcome.ok ? null : { code: outcome.error.code, message: outcome.error.message },
            startedAt: started,
            finishedAt: new Date(),
          }
          await recordStep(ctx, run.id, step, {
            conversationId: run.conversation_id,
            content,
            metadata: {
              run_id: run.id,
              tool_call_id: id,
              tool_name: call.name,
              arguments: call.args,
              is_error: !outcome.ok,
            },
          })
          results.push(
            new ToolMessage({
              content,
              tool_call_id: id,
              name: call.name,
              status: outcome.ok ? 'success' : 'error',
            }),
          )
        }
        return { messages: results }
      }

      const next = (state: { messages: BaseMessage[] }) => {
        const last = state.messages[state.messages.length - 1] as AIMessage
        if (!last.tool_calls?.length) return END
        if (modelCalls >= limits.maxModelCalls) {
          stoppedAtLimit = true
          return END
        }
        return 'tools'
      }

      const graph = new StateGraph(MessagesAnnotation)
        .addNode('model', callModel)
        .addNode('tools', callTools)
        .addEdge(START, 'model')
        .addConditionalEdges('model', next, ['tools', END])
        .addEdge('tools', 'model')
        .compile()
      await graph.invoke({ messages: history }, { signal, recursionLimit: 2 * limits.maxModelCalls + 4 })
      signal.throwIfAborted()
      return said
    }

    /** The coordinator hands a task to a specialist, who works on it with its own prompt and tools. */
    const delegate = async (from: Agent, args: unknown): Promise<ToolOutcome> => {
      const parsed = DelegationSchema.safeParse(args)
      if (!parsed.success || !from.delegates_to.includes(parsed.data.agent_id)) {
        return {
          ok: false,
          error: {
            code: 'validation_failed',
            message: `Delegate with {agent_id, task}; agent_id one of ${from.delegates_to.join(', ')}`,
          },
        }
      }
      const { agent_id, task } = parsed.data
      let specialist: Agent
      try {
        specialist = await getAgent({ ctx, input: { id: agent_id } })
      } catch (error) {
        const known = toDomainError(error)
        if (!known) throw error
        return { ok: false, error: { code: known.code, message: known.message } }
      }
      if (!specialist.enabled) {
        return {
          ok: false,
          error: { code: 'conflict', message: `${specialist.name} is turned off by the user` },
        }
      }
      sink.delegated({ from: from.id, to: specialist.id, task })
      const specialistContext = await loadRunContext(ctx, specialist, run.conversation_id)
      const brief = `${specialistContext.system}\n\n${from.name} hands you a task from the user's conversation. Do it with your tools, then say briefly what you did or found.`
      const result = await work(specialist, brief, [new HumanMessage(task)], false)
      return { ok: true, result: { agent_id: specialist.id, answer: result } }
    }

    await work(agent, context.system, context.history, true)

    if (stoppedAtLimit) {
      const note = `(Stopped: this run reached its limit of ${limits.maxModelCalls} model calls.)`
      answer += answer ? `\n\n${note}` : note
    }
    const { run: ended, message } = await finishRun(ctx, run.id, {
      status: 'succeeded',
      text: storable(answer),
      model,
      usage,
      conversationId: run.conversation_id,
      agentId: agent.id,
      triggerMessageId: run.trigger_message_id,
    })
    sink.finished({
      status: ended.status === 'cancelled' ? 'cancelled' : 'succeeded',
      message_id: message.id,
      usage,
      model,
    })
  } catch (error) {
    if (running && signal.reason instanceof RunCancelled) {
      // The partial answer is kept, marked as cancelled.
      try {
        const { message } = await finishRun(ctx, run.id, {
          status: 'cancelled',
          text: storable(answer),
          model,
          usage,
          conversationId: run.conversation_id,
          agentId: agent.id,
          triggerMessageId: run.trigger_message_id,
        })
        sink.finished({ status: 'cancelled', message_id: message.id, usage, model })
      } catch (storing) {
        sink.failed(runError(storing, signal))
      }
      return
    }
    const failure = runError(error, signal)
    await failRun(ctx, run.id, failure, usage).catch((cannot: unknown) =>
      console.error(JSON.stringify({ level: 'error', run_id: run.id, cannot_mark_failed: String(cannot) })),
    )
    sink.failed(failure)
  } finally {
    clearTimeout(deadline)
    clearInterval(beating)
    job.signal?.removeEventListener('abort', onOuterAbort)
    forget()
  }
}

/** Runs being worked on in the background in this instance (tests wait for them). */
const background = new Set<Promise<unknown>>()

/**
 * Keeps work going after the response: `EdgeRuntime.waitUntil` on Supabase's edge runtime (and in
 * the local stack's workers); elsewhere (Node, tests) the promise simply runs on.
 */
export function inBackground(work: Promise<unknown>): void {
  const guarded = work.catch((error: unknown) =>
    console.error(JSON.stringify({ level: 'error', background: 'failed', error: String(error) })),
  )
  background.add(guarded)
  void guarded.finally(() => background.delete(guarded))
  const runtime = globalThis as { EdgeRuntime?: { waitUntil(promise: Promise<unknown>): void } }
  runtime.EdgeRuntime?.waitUntil(guarded)
}

/** Resolves once every run working in the background here has ended. */
export async function backgroundSettled(): Promise<void> {
  while (background.size > 0) await Promise.all([...background])
}
