import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createClient } from '@supabase/supabase-js'
import WebSocket from 'ws'
import { FunctionWorker } from '../scripts/stack/functions/runner.ts'
import { PROJECT_ROOT } from '../scripts/paths.ts'
import { startFakeOpenAI } from '../tests/helpers/fake-openai.ts'
import type { Measurement } from './lib.ts'
import type { BenchContext } from './run.ts'

/**
 * The ai function under Deno (as on the edge runtime) against the fake OpenAI on 127.0.0.1: the time
 * from `POST ai/runs` to the first token, read from the SSE response and from a Realtime subscriber
 * of `conversation:{id}`, less the fake provider's own time (from its receiving the request to its
 * first text event): our overhead, which includes storing the message and the run and reading the
 * context. Then how many streamed tokens (deltas) a second reach a Realtime subscriber, batched into
 * token broadcasts. Runs one after another, bounded by count.
 */
export async function benchAi({ stack, sql, user }: BenchContext): Promise<Measurement[]> {
  const openai = await startFakeOpenAI()
  const worker = new FunctionWorker(
    { name: 'ai', entrypoint: join(PROJECT_ROOT, 'functions', 'ai', 'index.ts'), verifyJwt: false },
    {
      env: {
        OPENAI_API_KEY: openai.apiKey as string,
        OPENAI_BASE_URL: openai.url,
        ANTHROPIC_API_KEY: '',
        AI_DEFAULT_MODEL: 'openai:gpt-bench',
        AI_FALLBACK_MODELS: '',
        AI_RUNS_PER_MINUTE: '0',
      },
      log: () => {},
    },
  )
  const client = createClient(stack.apiUrl, stack.keys.anonKey, {
    accessToken: async () => user.token,
    realtime: { transport: WebSocket as never },
  })
  try {
    const url = `http://127.0.0.1:${await worker.whenReady()}/ai/runs`
    const [{ id: conversationId }] = await sql`
      insert into public.conversations (user_id, title) values (${user.id}, 'bench') returning id`
    await client.realtime.setAuth(user.token)
    const firstTokens: Array<(at: number) => void> = []
    let received = 0
    let lastAt = 0
    let finished: (() => void) | undefined
    const channel = client
      .channel(`conversation:${conversationId}`, { config: { private: true } })
      .on('broadcast', { event: 'token' }, ({ payload }) => {
        firstTokens.shift()?.(performance.now())
        received += (String(payload.text).match(/\S+\s*/g) ?? []).length
        lastAt = performance.now()
      })
      .on('broadcast', { event: 'run_finished' }, () => finished?.())
    await new Promise<void>((resolve, reject) =>
      channel.subscribe((status, error) =>
        status === 'SUBSCRIBED' ? resolve() : reject(error ?? new Error(status)),
      ),
    )

    /** When the fake received each request: its own time starts there. */
    const providerStarted: number[] = []
    openai.respond(() => {
      providerStarted.push(performance.now())
      return { text: ['Here ', 'is ', 'your ', 'plan.'] }
    })
    const post = (accept: string) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json', accept },
        body: JSON.stringify({ conversation_id: conversationId, content: 'Plan my day' }),
      })
    const runOnce = async (sse: boolean) => {
      const ended = new Promise<void>((resolve) => {
        finished = resolve
      })
      const realtimeFirst = new Promise<number>((resolve) => firstTokens.push(resolve))
      const t0 = performance.now()
      const response = await post(sse ? 'text/event-stream' : 'application/json')
      let sseFirst = 0
      if (sse) {
        const reader = (response.body as ReadableStream<Uint8Array>).getReader()
        const decoder = new TextDecoder()
        let text = ''
        for (;;) {
          const { done, value } = await reader.read()
          if (done) break
          text += decoder.decode(value, { stream: true })
          if (!sseFirst && text.includes('"text-delta"')) sseFirst = performance.now()
        }
      } else await response.arrayBuffer()
      const realtimeAt = await realtimeFirst
      await ended
      const provider = providerStarted[providerStarted.length - 1]
      // The fake answers at once: its own time is from its receiving the request to the first event.
      return { sse: sseFirst - t0, realtime: realtimeAt - t0, beforeProvider: provider - t0 }
    }

    for (let i = 0; i < 5; i++) await runOnce(i % 2 === 0)
    const samples = { sse: [] as number[], realtime: [] as number[], sseOverhead: [] as number[] }
    for (let i = 0; i < 40; i++) {
      const sse = await runOnce(true)
      samples.sse.push(sse.sse)
      samples.sseOverhead.push(sse.beforeProvider)
      const background = await runOnce(false)
      samples.realtime.push(background.realtime)
    }

    // Throughput: one long answer, as fast as the fake can send it.
    openai.respond(() => ({ text: Array.from({ length: 3000 }, (_, i) => `t${i} `) }))
    received = 0
    const firstAt = new Promise<number>((resolve) => firstTokens.push(resolve))
    const ended = new Promise<void>((resolve) => {
      finished = resolve
    })
    await (await post('application/json')).arrayBuffer()
    const start = await firstAt
    await ended
    const seconds = (lastAt - start) / 1000

    const row = (name: string, values: number[]): Measurement => {
      const sorted = [...values].sort((a, b) => a - b)
      const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
      const total = values.reduce((sum, value) => sum + value, 0)
      return {
        name,
        requests: values.length,
        concurrency: 1,
        rps: (1000 * values.length) / total,
        p50: at(50),
        p99: at(99),
      }
    }
    return [
      row('first token via SSE (POST ai/runs → first text-delta)', samples.sse),
      row('  of which before the provider is called (our overhead)', samples.sseOverhead),
      row('first token via Realtime (POST ai/runs → first token broadcast)', samples.realtime),
      {
        name: `tokens to a Realtime subscriber (${received} deltas; req/s = deltas/s)`,
        requests: received,
        concurrency: 1,
        rps: received / seconds,
        p50: 0,
        p99: 0,
      },
    ]
  } finally {
    await client.removeAllChannels()
    await worker.stop()
    await openai.close()
  }
}
