import { aiFunctionUrl, asUserHeaders } from '../config.ts'

// The chat function hands a stored user message to the ai function over HTTP, with the user's own
// token (functions never import each other; agents run only in `ai`). `ai` starts the run and works
// on it in the background; this answers with the run, or why none was started.

export interface HandedRun {
  id: string
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
  error: { code: string; message: string } | null
}

export interface Handoff {
  run: HandedRun | null
  run_error?: { code: string; message: string }
}

export async function handToAgent(
  accessToken: string,
  message: { id: string; conversation_id: string },
  agentId: string | null,
): Promise<Handoff> {
  try {
    const response = await fetch(`${aiFunctionUrl()}/runs`, {
      method: 'POST',
      headers: { ...asUserHeaders(accessToken), accept: 'application/json' },
      body: JSON.stringify({
        conversation_id: message.conversation_id,
        message_id: message.id,
        agent_id: agentId,
      }),
      signal: AbortSignal.timeout(15_000),
    })
    const body = (await response.json().catch(() => undefined)) as
      | (HandedRun & { error?: { code: string; message: string } | null })
      | { error?: { code?: string; message?: string } }
      | undefined
    if (response.status === 202 && body && 'id' in body) {
      return { run: { id: body.id, status: body.status, error: body.error ?? null } }
    }
    const error = body?.error as { code?: string; message?: string } | undefined
    return {
      run: null,
      run_error: {
        code: error?.code ?? 'provider_unavailable',
        message: error?.message ?? `The ai function answered ${response.status}`,
      },
    }
  } catch {
    return {
      run: null,
      run_error: { code: 'provider_unavailable', message: 'The ai function could not be reached' },
    }
  }
}
