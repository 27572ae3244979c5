import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
  type ToolCall,
  ToolMessage,
} from '@langchain/core/messages'
import { type StructuredToolInterface, ToolInputParsingException, tool } from '@langchain/core/tools'
import { z } from 'zod'
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph'
import type { ServiceContext } from '../core/context.ts'
import { DomainError, toDomainError } from '../core/errors.ts'
import { withUser } from '../db/with-user.ts'
import { type ApprovalPolicy, DEFAULT_APPROVAL_POLICY } from '../users/schemas.ts'
import { getAgent } from './agents.ts'
import {
  ApprovalPause,
  describeAction,
  type Frame,
  type Gate,
  gateToolCall,
  loadApprovalPolicy,
  type PendingAction,
  pauseRun,
  type Resumption,
  type StoredMessage,
} from './approval.ts'
import { streamChat } from './chat.ts'
import {
  asToolResult,
  knowledgeQuery,
  loadRunContext,
  type PendingSummary,
  type RunContext,
  runQuestion,
} from './context.ts'
import type { ToolName } from './crew.ts'
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
  recordDecision,
  recordStep,
  type StepRecord,
  type Usage,
  workingHere,
} from './runs.ts'
import type { Agent, Run } from './schemas.ts'
import type { RunSink } from './sinks.ts'
import { summariseHistory } from './summary.ts'
import { agentTools, langchainTools, outcomeText, parametersOf, type ToolOutcome } from './tools.ts'

// One run's work (ADR 0024): a LangGraph graph of a model node (streamChat: timeouts, fallbacks,
// cancellation) and a tools node (the service verbs as the agent), bounded in model calls, tool
// calls and time. Nothing here holds a transaction across a model call: each write (a step, a tool's
// verb, the answer) is a short transaction of its own. A tool call that needs the user's approval
// (ADR 0030) pauses the run: what the agents at work had is kept in Postgres and the work ends;
// `resumeRun` picks it up from there, in whatever process serves the decision.

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
  /** The `seq` the next broadcast gets (kept when the run pauses, so a resumed run's events follow). */
  seq?: () => number
  /** The text of the message the run answers, when the caller has it (else it is read). */
  question?: string
}

/** A paused run's work, resumed with the user's decisions (`decideApproval`). */
export interface ResumeJob extends Omit<RunJob, 'agent'> {
  resumption: Resumption
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

/** A message as a paused run keeps it. */
function toStored(message: BaseMessage): StoredMessage {
  const content = typeof message.content === 'string' ? message.content : message.text
  if (message.type === 'tool') {
    const tool = message as ToolMessage
    return {
      role: 'tool',
      tool_call_id: tool.tool_call_id,
      name: tool.name ?? '',
      content,
      status: tool.status === 'error' ? 'error' : 'success',
    }
  }
  if (message.type === 'ai') {
    const calls = (message as AIMessage).tool_calls ?? []
    return {
      role: 'assistant',
      content,
      tool_calls: calls.map((call) => ({ id: call.id ?? '', name: call.name, args: call.args })),
    }
  }
  return { role: 'user', content }
}

/** A kept message as LangChain's. */
function fromStored(message: StoredMessage): BaseMessage {
  switch (message.role) {
    case 'user':
      return new HumanMessage(message.content)
    case 'assistant':
      return new AIMessage({
        content: message.content,
        tool_calls: message.tool_calls.map((call) => ({ ...call, type: 'tool_call' as const })),
      })
    case 'tool':
      return new ToolMessage({
        content: message.content,
        tool_call_id: message.tool_call_id,
        name: message.name,
        status: message.status,
      })
  }
}

/** What a refused action answers the model: refused, with the user's note. */
const refusal = (note: string | null): ToolOutcome => ({
  ok: false,
  error: {
    code: 'refused',
    message: `The user did not approve this change, so it was not made${note ? `. Their note: ${note}` : ''}. Do not try it again unless they ask.`,
  },
})

/** One agent at work in a run: its prompt, its tools as the agent, and what it has said so far. */
interface Turn {
  agent: Agent
  system: string
  speaking: boolean
  said: string
  agentCtx: ServiceContext
  byName: Map<string, StructuredToolInterface>
}

/**
 * Works a queued run to its end: marks it running, streams the agent's answer to the sinks, lets
 * the agent call its tools, stores the answer and ends the run (succeeded, cancelled with the
 * partial answer kept, failed with a code, or paused awaiting approval). Never throws.
 */
export async function executeRun(job: RunJob): Promise<void> {
  await drive(job)
}

/**
 * Resumes a paused run from its kept state with the user's decisions: approved calls run, refused
 * ones go back to the model as refused, and the run goes on to its end (or to another pause).
 * The run is already `running` (the decision's transaction). Never throws.
 */
export async function resumeRun(job: ResumeJob): Promise<void> {
  let agent: Agent
  try {
    agent = await getAgent({ ctx: job.ctx, input: { id: job.run.agent_id } })
  } catch (error) {
    const failure = runError(error, new AbortController().signal)
    await failRun(job.ctx, job.run.id, failure).catch(() => {})
    job.sink.failed(failure)
    return
  }
  await drive({ ...job, agent }, job.resumption)
}

async function drive(job: RunJob, resumption?: Resumption): Promise<void> {
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
  const kept = resumption?.state
  const usage: Usage = kept ? { ...kept.usage } : {}
  let answer = kept?.answer ?? ''
  let model: string | null = kept?.model ?? null
  let position = kept?.position ?? 0
  let running = resumption !== undefined
  let policy: ApprovalPolicy = resumption?.policy ?? DEFAULT_APPROVAL_POLICY
  let modelCalls = kept?.model_calls ?? 0
  let toolCalls = kept?.tool_calls ?? 0
  let stoppedAtLimit = false
  // The decisions, by the model's id of the call each decides.
  const decisions = new Map((resumption?.decisions ?? []).map((decision) => [decision.toolCallId, decision]))

  /** The partial answer is kept, marked as cancelled. */
  const endCancelled = async () => {
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
  }

  try {
    const models = resolveModels(agent.model ?? undefined)
    let context: Awaited<ReturnType<typeof loadRunContext>> | undefined
    if (!resumption) {
      model = models[0].name
      // The user's message embedded for the knowledge in its context: before any transaction opens.
      const knowledge = await knowledgeQuery(job.question ?? (await runQuestion(ctx, run)))
      // One short transaction before the first model call: running, the context, its step, the policy.
      context = await withUser(ctx, async (tx) => {
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
        policy = await loadApprovalPolicy(tx, ctx.userId)
        return loaded
      })
      // Cancelled before it started: nothing to do, the run is already a record.
      if (!context) return
    }
    beating = setInterval(() => {
      heartbeat(ctx, run.id).then(
        (alive) => {
          if (!alive) controller.abort(new RunCancelled())
        },
        () => {},
      )
    }, limits.heartbeatMs)
    if (resumption) {
      sink.resumed({
        decisions: resumption.decisions.map((decision) => ({
          action_id: decision.actionId,
          approve: decision.approve,
        })),
      })
    } else {
      sink.started({ agent_id: agent.id, model, trigger_message_id: run.trigger_message_id })
    }

    const turnOf = (current: Agent, system: string, speaking: boolean, said: string): Turn => {
      const agentCtx = agentActor(ctx, run.id, current.id, run.trigger_message_id)
      const names = current.tools.filter((name): name is ToolName => name in agentTools)
      const tools: StructuredToolInterface[] = [
        ...langchainTools(agentCtx, names),
        ...delegationTools(current),
      ]
      return {
        agent: current,
        system,
        speaking,
        said,
        agentCtx,
        byName: new Map(tools.map((lcTool) => [lcTool.name, lcTool])),
      }
    }

    /**
     * One agent's turn: its model and tools in a graph, until it answers. The agent the user talks
     * to speaks (its text streams to the sinks and becomes the answer); a specialist it delegates
     * to works quietly and its answer goes back to the coordinator as the delegation's result. The
     * run's budget of model and tool calls is shared by both.
     */
    const work = async (turn: Turn, history: BaseMessage[]): Promise<string> => {
      const tools = [...turn.byName.values()]
      const callModel = async (state: { messages: BaseMessage[] }) => {
        modelCalls++
        const started = new Date()
        const stream = streamChat({
          messages: [new SystemMessage(turn.system), ...state.messages],
          model: turn.agent.model ?? undefined,
          tools: tools.length ? tools : undefined,
          temperature: turn.agent.temperature,
          timeoutMs: limits.modelTimeoutMs,
          maxRetries: limits.maxRetries,
          signal,
        })
        let separated = turn.said.length === 0
        for (;;) {
          const step = await stream.next()
          if (step.done) {
            const result = step.value
            if (turn.speaking) model = result.model
            addUsage(usage, result.model, result.usage?.input_tokens, result.usage?.output_tokens)
            // Every call gets an id: a paused run's kept calls are found by it.
            const toolCallsAsked = (result.message.tool_calls ?? []).map((call) => ({
              ...call,
              id: call.id || crypto.randomUUID(),
            }))
            await recordStep(ctx, run.id, {
              position: position++,
              kind: 'model_call',
              name: result.model,
              agentId: turn.agent.id,
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
            turn.said += piece
            if (turn.speaking) {
              answer += piece
              sink.text(piece)
            }
          }
        }
      }

      const callTools = async (state: { messages: BaseMessage[] }) => ({
        messages: await runBatch(turn, state.messages, 0, []),
      })

      // After tools (a delegation may have used the run's last model calls), the model only within the limit.
      const afterTools = () => {
        if (modelCalls < limits.maxModelCalls) return 'model'
        stoppedAtLimit = true
        return END
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
        .addConditionalEdges('tools', afterTools, ['model', END])
        .compile()
      await graph.invoke({ messages: history }, { signal, recursionLimit: 2 * limits.maxModelCalls + 4 })
      signal.throwIfAborted()
      return turn.said
    }

    /** Whether a call must wait for approval (never a delegation, an unknown tool or one past the limit). */
    const gateOf = (turn: Turn, call: ToolCall): Promise<Gate> | Gate => {
      if (call.name === DELEGATE_TOOL || !turn.byName.has(call.name) || toolCalls >= limits.maxToolCalls) {
        return { args: call.args }
      }
      return gateToolCall(policy, agentTools[call.name as ToolName], turn.agentCtx, call.args)
    }

    /** Runs one of the agent's tools (not a delegation) with the given arguments, within the run's budget. */
    const invokeTool = async (
      turn: Turn,
      call: ToolCall,
      args: unknown,
      stepId?: string,
    ): Promise<ToolOutcome> => {
      const lcTool = turn.byName.get(call.name)
      if (!lcTool || call.name === DELEGATE_TOOL) {
        return { ok: false, error: { code: 'not_found', message: `There is no tool named ${call.name}` } }
      }
      if (toolCalls >= limits.maxToolCalls) {
        return {
          ok: false,
          error: {
            code: 'limit_reached',
            message: `A run may call at most ${limits.maxToolCalls} tools; answer now`,
          },
        }
      }
      toolCalls++
      try {
        // The tool call's step id is chosen before the call: the verb's changes are traced under it (ADR 0029).
        const message = (await lcTool.invoke(
          { ...call, args: args as Record<string, unknown>, type: 'tool_call' },
          { signal, configurable: { stepId } },
        )) as unknown as ToolMessage
        return message.artifact as ToolOutcome
      } catch (error) {
        if (signal.aborted) throw error
        if (!(error instanceof ToolInputParsingException)) throw error
        return { ok: false, error: { code: 'validation_failed', message: error.message } }
      }
    }

    /** A call's outcome to the sinks, the run's record and the conversation, and as the model reads it. */
    const settle = async (
      turn: Turn,
      call: ToolCall,
      outcome: ToolOutcome,
      started: Date,
      record: { stepId?: string; actionId?: string },
    ): Promise<ToolMessage> => {
      const id = call.id as string
      const content = outcomeText(outcome, 10_000)
      sink.toolResult({
        id,
        name: call.name,
        ok: outcome.ok,
        ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
      })
      const toolMessage = {
        conversationId: run.conversation_id,
        content,
        metadata: {
          run_id: run.id,
          tool_call_id: id,
          tool_name: call.name,
          arguments: call.args,
          is_error: !outcome.ok,
          ...(record.actionId ? { action_id: record.actionId } : {}),
        },
      }
      if (record.actionId) {
        await recordDecision(ctx, run.id, turn.agent.id, record.actionId, outcome, toolMessage)
      } else {
        // A delegation is a call of the delegation tool the agent has (a specialist asking for one has none).
        const delegation = call.name === DELEGATE_TOOL && turn.byName.has(DELEGATE_TOOL)
        const step: StepRecord = {
          id: record.stepId,
          position: position++,
          kind: delegation ? 'delegation' : 'tool_call',
          name: delegation ? String(call.args?.agent_id ?? DELEGATE_TOOL) : call.name,
          agentId: turn.agent.id,
          input: { tool_call_id: id, arguments: call.args },
          output: outcome.ok ? { result: outcome.result ?? null } : {},
          error: outcome.ok ? null : { code: outcome.error.code, message: outcome.error.message },
          startedAt: started,
          finishedAt: new Date(),
        }
        await recordStep(ctx, run.id, step, toolMessage)
      }
      return new ToolMessage({
        content: asToolResult(call.name, content),
        tool_call_id: id,
        name: call.name,
        status: outcome.ok ? 'success' : 'error',
      })
    }

    /**
     * The calls of the model's last message, in order, from `from` (the ones before have answered
     * `done`). A call that must wait for approval pauses the run: it and every later call of the
     * batch that must wait become the actions the user decides (`ApprovalPause`, with this agent's
     * frame). A decided call runs (approved) or answers refused. `deeper` resumes a paused delegation.
     */
    const runBatch = async (
      turn: Turn,
      messages: BaseMessage[],
      from: number,
      done: BaseMessage[],
      deeper?: () => Promise<ToolOutcome>,
    ): Promise<ToolMessage[]> => {
      const last = messages[messages.length - 1] as AIMessage
      const calls = last.tool_calls ?? []
      const results = [...done] as ToolMessage[]
      const frameAt = (next: number): Frame => ({
        agent_id: turn.agent.id,
        system: turn.system,
        speaking: turn.speaking,
        said: turn.said,
        messages: messages.map(toStored),
        done: results.map(toStored),
        next,
      })
      /** A pause below this agent (in its delegation) keeps this agent's frame above the specialist's. */
      const within = async (index: number, fn: () => Promise<ToolOutcome>) => {
        try {
          return await fn()
        } catch (error) {
          if (error instanceof ApprovalPause) {
            throw new ApprovalPause([frameAt(index), ...error.frames], error.pending)
          }
          throw error
        }
      }
      for (let index = from; index < calls.length; index++) {
        signal.throwIfAborted()
        const call = calls[index]
        const id = call.id as string
        const started = new Date()
        if (index === from && deeper) {
          results.push(await settle(turn, call, await within(index, deeper), started, {}))
          continue
        }
        const decided = decisions.get(id)
        if (decided) {
          decisions.delete(id)
          sink.toolCall({ id, name: call.name, args: call.args, agent_id: turn.agent.id })
          const outcome = decided.approve
            ? await invokeTool(turn, call, decided.args, decided.actionId)
            : refusal(decided.note)
          results.push(await settle(turn, call, outcome, started, { actionId: decided.actionId }))
          continue
        }
        const gate = await gateOf(turn, call)
        if (gate.proposal) {
          const pending: PendingAction[] = []
          const wait = (waiting: ToolCall, { args, proposal }: Required<Gate>) =>
            pending.push({
              actionId: crypto.randomUUID(),
              position: position++,
              toolCallId: waiting.id as string,
              tool: waiting.name,
              agentId: turn.agent.id,
              arguments: waiting.args,
              boundArgs: args,
              change: proposal.change,
              reason: proposal.reason,
            })
          wait(call, gate as Required<Gate>)
          for (const later of calls.slice(index + 1)) {
            const laterGate = await gateOf(turn, later)
            if (laterGate.proposal) wait(later, laterGate as Required<Gate>)
          }
          throw new ApprovalPause([frameAt(index)], pending)
        }
        sink.toolCall({ id, name: call.name, args: call.args, agent_id: turn.agent.id })
        if (call.name === DELEGATE_TOOL && turn.byName.has(DELEGATE_TOOL)) {
          const outcome =
            toolCalls >= limits.maxToolCalls
              ? await invokeTool(turn, call, call.args)
              : await within(index, () => {
                  toolCalls++
                  return delegate(turn.agent, call.args)
                })
          results.push(await settle(turn, call, outcome, started, {}))
          continue
        }
        const stepId = crypto.randomUUID()
        const outcome = await invokeTool(turn, call, gate.args, stepId)
        results.push(await settle(turn, call, outcome, started, { stepId }))
      }
      return results
    }

    /**
     * Older turns that did not fit are summarised into the conversation before the first model
     * call. A summary that cannot be written (the provider fails) does not fail the run: the prompt
     * then says how many turns are not shown.
     */
    const summarised = async (context: RunContext): Promise<string> => {
      const started = new Date()
      try {
        const { summary, result, messageId } = await summariseHistory({
          ctx: agentActor(ctx, run.id, agent.id, run.trigger_message_id),
          conversationId: run.conversation_id,
          pending: context.summarise as PendingSummary,
          model: agent.model ?? undefined,
          timeoutMs: limits.modelTimeoutMs,
          maxRetries: limits.maxRetries,
          signal,
        })
        addUsage(usage, result.model, result.usage?.input_tokens, result.usage?.output_tokens)
        await recordStep(ctx, run.id, {
          position: position++,
          kind: 'model_call',
          name: result.model,
          agentId: agent.id,
          input: { purpose: 'summary', turns: context.summarise?.turns.length, failed: result.failed },
          output: { message_id: messageId, messages: summary.messages, text_chars: summary.text.length },
          usage: result.usage
            ? { input_tokens: result.usage.input_tokens, output_tokens: result.usage.output_tokens }
            : null,
          startedAt: started,
          finishedAt: new Date(),
        })
        return context.withSummary(summary)
      } catch (error) {
        signal.throwIfAborted()
        console.error(JSON.stringify({ level: 'warn', run_id: run.id, summary_failed: String(error) }))
        return context.system
      }
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
      if (modelCalls >= limits.maxModelCalls) {
        return {
          ok: false,
          error: {
            code: 'limit_reached',
            message: `A run may make at most ${limits.maxModelCalls} model calls; answer now`,
          },
        }
      }
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
      const result = await work(turnOf(specialist, brief, false, ''), [new HumanMessage(task)])
      return { ok: true, result: { agent_id: specialist.id, answer: result } }
    }

    /** A paused run's agents at work, from the one the user talks to down, each resumed where it stopped. */
    const resumeFrames = async (frames: Frame[], depth: number): Promise<string> => {
      const frame = frames[depth]
      // The kept state names the run's own agent, and below it only a specialist it delegates to.
      if (depth === 0 ? frame.agent_id !== agent.id : !agent.delegates_to.includes(frame.agent_id)) {
        throw new Error(`The kept state names an agent this run cannot use (${frame.agent_id})`)
      }
      const current = depth === 0 ? agent : await getAgent({ ctx, input: { id: frame.agent_id } })
      const turn = turnOf(current, frame.system, frame.speaking, frame.said)
      const messages = frame.messages.map(fromStored)
      const below = frames[depth + 1]
      const deeper = below
        ? async (): Promise<ToolOutcome> => ({
            ok: true,
            result: { agent_id: below.agent_id, answer: await resumeFrames(frames, depth + 1) },
          })
        : undefined
      const results = await runBatch(turn, messages, frame.next, frame.done.map(fromStored), deeper)
      return work(turn, [...messages, ...results])
    }

    if (resumption) await resumeFrames(resumption.state.frames, 0)
    else if (context) {
      const system = context.summarise ? await summarised(context) : context.system
      await work(turnOf(agent, system, true, ''), context.history)
    }

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
    if (error instanceof ApprovalPause && running && !signal.aborted) {
      const seq = job.seq?.() ?? 0
      let paused: Awaited<ReturnType<typeof pauseRun>>
      try {
        paused = await pauseRun(
          ctx,
          run.id,
          {
            frames: error.frames,
            answer,
            model,
            usage,
            model_calls: modelCalls,
            tool_calls: toolCalls,
            position,
            // approval_required takes `seq`; the resumed run's first event the next.
            seq: seq + 1,
            waiting: error.pending.map((action) => ({
              action_id: action.actionId,
              tool_call_id: action.toolCallId,
              args: action.boundArgs,
            })),
          },
          error.pending,
          usage,
        )
      } catch (cannot) {
        const failure = runError(cannot, signal)
        await failRun(ctx, run.id, failure, usage).catch(() => {})
        sink.failed(failure)
        return
      }
      if (paused) {
        sink.approvalRequired({ actions: error.pending.map(describeAction), expires_at: paused.expiresAt })
        return
      }
      // Cancelled while it worked out what to ask: it ends as cancelled.
      await endCancelled()
      return
    }
    if (running && signal.reason instanceof RunCancelled) {
      await endCancelled()
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
