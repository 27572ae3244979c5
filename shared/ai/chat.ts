import type { BaseChatModel, BindToolsInput } from '@langchain/core/language_models/chat_models'
import type { BaseLanguageModelInput } from '@langchain/core/language_models/base'
import { type AIMessage, AIMessageChunk, type UsageMetadata } from '@langchain/core/messages'
import type { Runnable } from '@langchain/core/runnables'
import {
  classifyFailure,
  type FailedAttempt,
  type FailureKind,
  ModelTimeoutError,
  toApiError,
  worthAnotherModel,
} from './failures.ts'
import { type ModelRef, resolveModels } from './models.ts'
import { createChatModel, DEFAULT_TIMEOUT_MS, type ModelOptions } from './providers.ts'

/** One model call: a conversation so far, the tools the model may call, and how long to wait. */
export interface ChatRequest extends Omit<ModelOptions, 'fetch'> {
  messages: BaseLanguageModelInput
  /** `provider:model`; by default `AI_DEFAULT_MODEL`. `AI_FALLBACK_MODELS` follow it. */
  model?: string
  tools?: BindToolsInput[]
  /** Cancels the call: the provider's request is aborted and the signal's reason is thrown. */
  signal?: AbortSignal
}

export interface ChatResult {
  /** The model that answered, `provider:model`. */
  model: string
  message: AIMessage
  usage: UsageMetadata | undefined
  /** The models that failed before this one answered (5xx, a timeout), in order. */
  failed: Array<{ model: string; kind: FailureKind; status?: number }>
}

/**
 * Bounds one model call. While a request waits for its response the SDK's own timeout runs (and its
 * retries); once the response has started, the provider must say something every `timeoutMs` or the
 * call is aborted as timed out. The caller's signal cancels it at any point.
 */
class CallGuard {
  private readonly deadline = new AbortController()
  private timer: ReturnType<typeof setTimeout> | undefined
  readonly signal: AbortSignal
  timedOut = false

  constructor(
    private readonly cancel: AbortSignal | undefined,
    private readonly timeoutMs: number,
  ) {
    this.signal = cancel ? AbortSignal.any([cancel, this.deadline.signal]) : this.deadline.signal
  }

  get cancelled(): boolean {
    return this.cancel?.aborted === true
  }

  /** The provider must say more within `timeoutMs`. */
  arm(): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timedOut = true
      this.deadline.abort(new ModelTimeoutError(this.timeoutMs))
    }, this.timeoutMs)
  }

  /** While the consumer handles a chunk, the provider is not the one keeping it waiting. */
  pause(): void {
    clearTimeout(this.timer)
  }

  /** The `fetch` handed to the SDK: the guard takes over from the SDK's timeout once a response starts. */
  readonly fetch: typeof fetch = async (input, init) => {
    clearTimeout(this.timer)
    const response = await fetch(input, init)
    this.arm()
    return response
  }

  /** Stops the timer, and the provider's request if the consumer left before the end. */
  close(): void {
    clearTimeout(this.timer)
    if (!this.deadline.signal.aborted) this.deadline.abort()
  }
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancellation(signal)
}

const cancellation = (signal: AbortSignal | undefined): unknown =>
  signal?.reason ?? new DOMException('The model call was cancelled', 'AbortError')

function bindTools(model: BaseChatModel, tools: BindToolsInput[] | undefined): Runnable {
  if (!tools?.length) return model
  if (!model.bindTools) throw new Error(`${model.getName()} cannot call tools`)
  return model.bindTools(tools)
}

/** Whether a chunk carries anything a reader would see: once one has gone out, no other model may answer instead. */
const says = (chunk: AIMessageChunk): boolean =>
  chunk.text.length > 0 || (chunk.tool_call_chunks?.length ?? 0) > 0

const failedSoFar = (failed: FailedAttempt[]): ChatResult['failed'] =>
  failed.map(({ model, failure }) => ({ model: model.name, kind: failure.kind, status: failure.status }))

interface Attempt {
  ref: ModelRef
  guard: CallGuard
  model: Runnable
}

/**
 * Runs `call` on each model in turn until one answers: the requested model, then `AI_FALLBACK_MODELS`
 * while the failure is one another model may not have (5xx, timeout). Failures become API errors
 * (shared/ai/failures.ts); cancellation rethrows the signal's reason.
 */
async function* withFallback<T>(
  request: ChatRequest,
  call: (
    attempt: Attempt,
    failed: FailedAttempt[],
  ) => AsyncGenerator<AIMessageChunk, T, undefined> | Promise<T>,
): AsyncGenerator<AIMessageChunk, T, undefined> {
  const timeoutMs = request.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const failed: FailedAttempt[] = []
  for (const ref of resolveModels(request.model)) {
    throwIfCancelled(request.signal)
    const guard = new CallGuard(request.signal, timeoutMs)
    const model = bindTools(createChatModel(ref, { ...request, fetch: guard.fetch }), request.tools)
    let said = false
    const answer = call({ ref, guard, model }, failed)
    try {
      if (answer instanceof Promise) {
        const value = await answer
        guard.signal.throwIfAborted()
        return value
      }
      for (;;) {
        const step = await answer.next()
        if (step.done) {
          guard.signal.throwIfAborted()
          return step.value
        }
        said ||= says(step.value)
        guard.pause()
        yield step.value
        guard.arm()
      }
    } catch (error) {
      if (guard.cancelled) throw cancellation(request.signal)
      const failure = guard.timedOut ? { kind: 'timeout' as const } : classifyFailure(error)
      failed.push({ model: ref, failure })
      // Once part of an answer has gone out, another model's answer would not follow on from it.
      if (said || !worthAnotherModel(failure)) throw toApiError(failed, timeoutMs)
    } finally {
      guard.close()
      // A consumer that stopped early leaves the call suspended: let it close the provider's stream.
      if (!(answer instanceof Promise)) await answer.return(undefined as T)
    }
  }
  throw toApiError(failed, timeoutMs)
}

/**
 * Streams a model's answer chunk by chunk (text deltas, tool-call deltas, usage at the end); returns the
 * whole answer when done. `for await` gives the chunks; `next()` until `done` also gives the result.
 */
export function streamChat(request: ChatRequest): AsyncGenerator<AIMessageChunk, ChatResult, undefined> {
  return withFallback(request, async function* ({ ref, guard, model }, failed) {
    const stream = await model.stream(request.messages, { signal: guard.signal })
    let message: AIMessageChunk | undefined
    for await (const chunk of stream as AsyncIterable<AIMessageChunk>) {
      message = message ? message.concat(chunk) : chunk
      yield chunk
    }
    message ??= new AIMessageChunk({ content: '' })
    return { model: ref.name, message, usage: message.usage_metadata, failed: failedSoFar(failed) }
  })
}

/** The model's whole answer in one response (no streaming), with the same fallbacks and errors. */
export async function invokeChat(request: ChatRequest): Promise<ChatResult> {
  const answer = withFallback(request, async ({ ref, guard, model }, failed) => {
    const message = (await model.invoke(request.messages, { signal: guard.signal })) as AIMessage
    return { model: ref.name, message, usage: message.usage_metadata, failed: failedSoFar(failed) }
  })
  for (;;) {
    const step = await answer.next()
    if (step.done) return step.value
  }
}
