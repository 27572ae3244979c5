import type { UIMessageChunk } from 'ai'
import type { RunBroadcaster } from './broadcast.ts'
import type { Usage } from './runs.ts'

// Where a run's output goes while it works: the conversation's Realtime channel (always), and the
// AI SDK's UI message stream when the request asked for `text/event-stream` (what `useChat` reads).

export interface RunSink {
  started(info: { agent_id: string; model: string | null; trigger_message_id: string | null }): void
  text(delta: string): void
  toolCall(call: { id: string; name: string; args: unknown; agent_id: string }): void
  toolResult(result: {
    id: string
    name: string
    ok: boolean
    result?: unknown
    error?: { code: string; message: string }
  }): void
  delegated(delegation: { from: string; to: string; task: string }): void
  /** The run paused: these changes wait for the user's decision (ADR 0030). */
  approvalRequired(info: { actions: unknown[]; expires_at: string }): void
  /** A paused run goes on, with the user's decisions. */
  resumed(info: { decisions: Array<{ action_id: string; approve: boolean }> }): void
  finished(info: {
    status: 'succeeded' | 'cancelled'
    message_id: string
    usage: Usage
    model: string | null
  }): void
  failed(error: { code: string; message: string }): void
}

/**
 * Broadcasts on `conversation:{id}`: run_started, token, tool_call, tool_result, delegated,
 * approval_required, run_resumed, run_finished, run_failed.
 */
export function realtimeSink(broadcaster: RunBroadcaster): RunSink {
  return {
    started: (info) => broadcaster.send('run_started', info),
    text: (delta) => broadcaster.token(delta),
    toolCall: (call) => broadcaster.send('tool_call', call),
    toolResult: (result) => broadcaster.send('tool_result', result),
    delegated: (delegation) => broadcaster.send('delegated', delegation),
    approvalRequired: (info) => broadcaster.send('approval_required', info),
    resumed: (info) => broadcaster.send('run_resumed', info),
    finished: (info) => broadcaster.send('run_finished', info),
    failed: (error) => broadcaster.send('run_failed', { error }),
  }
}

/** The AI SDK's UI message stream protocol, written through the SDK's own writer. */
export function uiMessageSink(
  writer: { write(chunk: UIMessageChunk): void },
  run: { id: string; conversation_id: string },
): RunSink {
  let textId: string | undefined
  const closeText = () => {
    if (textId) writer.write({ type: 'text-end', id: textId })
    textId = undefined
  }
  return {
    started: (info) => {
      writer.write({
        type: 'start',
        messageMetadata: { run_id: run.id, conversation_id: run.conversation_id, agent_id: info.agent_id },
      })
      writer.write({ type: 'start-step' })
    },
    text: (delta) => {
      if (!textId) {
        textId = crypto.randomUUID()
        writer.write({ type: 'text-start', id: textId })
      }
      writer.write({ type: 'text-delta', id: textId, delta })
    },
    toolCall: (call) => {
      closeText()
      writer.write({
        type: 'tool-input-available',
        toolCallId: call.id,
        toolName: call.name,
        input: call.args,
        dynamic: true,
      })
    },
    toolResult: (result) => {
      writer.write(
        result.ok
          ? {
              type: 'tool-output-available',
              toolCallId: result.id,
              output: result.result ?? null,
              dynamic: true,
            }
          : {
              type: 'tool-output-error',
              toolCallId: result.id,
              errorText: `${result.error?.code}: ${result.error?.message}`,
              dynamic: true,
            },
      )
    },
    delegated: () => {},
    // The stream ends here; the run goes on (over Realtime) once the user decides.
    approvalRequired: (info) => {
      closeText()
      writer.write({ type: 'data-approval_required', data: { run_id: run.id, ...info } })
      writer.write({ type: 'finish-step' })
      writer.write({
        type: 'finish',
        finishReason: 'other',
        messageMetadata: { run_id: run.id, status: 'awaiting_approval' },
      })
    },
    resumed: () => {},
    finished: (info) => {
      closeText()
      writer.write({ type: 'finish-step' })
      writer.write({
        type: 'finish',
        finishReason: info.status === 'cancelled' ? 'other' : 'stop',
        messageMetadata: {
          run_id: run.id,
          status: info.status,
          message_id: info.message_id,
          usage: info.usage,
          model: info.model,
        },
      })
    },
    failed: (error) => {
      closeText()
      writer.write({ type: 'error', errorText: `${error.code}: ${error.message}` })
    },
  }
}

/** Several sinks as one. */
export function allSinks(sinks: RunSink[]): RunSink {
  const each =
    <K extends keyof RunSink>(method: K) =>
    (argument: Parameters<RunSink[K]>[0]) => {
      for (const sink of sinks) (sink[method] as (value: typeof argument) => void)(argument)
    }
  return {
    started: each('started'),
    text: each('text'),
    toolCall: each('toolCall'),
    toolResult: each('toolResult'),
    delegated: each('delegated'),
    approvalRequired: each('approvalRequired'),
    resumed: each('resumed'),
    finished: each('finished'),
    failed: each('failed'),
  }
}
