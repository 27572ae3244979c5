import { aiFunctionUrl, asUserHeaders } from '../config.ts'
import { inBackground } from './background.ts'

// A saved note is indexed without anyone asking (docs/adr/0032): the notes function, once it has
// answered the save, asks the ai function over HTTP, with the user's own token, to drain the user's
// queue (functions never import each other; the embedders live in `ai`). The save's trigger has
// already queued the note, so a hand-off that fails loses nothing: the periodic drain finds it.

/** Tries of a hand-off, 1 s and then 4 s apart: a busy gateway (503) or database (500) is often brief. */
const HANDOFF_TRIES = 3

/** A refusal that asking again will not change (the token, the request): a 4xx but 408 and 429. */
const refusedForGood = (status: number) => status >= 400 && status < 500 && status !== 408 && status !== 429

/**
 * After the response: POST ai/knowledge/drain as the user (EdgeRuntime.waitUntil keeps it going),
 * sent again on no answer, a 408, 429 or 5xx.
 */
export function requestIndexing(accessToken: string): void {
  inBackground('knowledge.handoff', async () => {
    for (let attempt = 1; ; attempt++) {
      const answer = await handOff(accessToken).catch((error: unknown) => String(error))
      if (typeof answer === 'number' && answer >= 200 && answer < 300) return
      if ((typeof answer === 'number' && refusedForGood(answer)) || attempt >= HANDOFF_TRIES) {
        const what = typeof answer === 'number' ? `answered ${answer}` : `could not be reached (${answer})`
        console.warn(`knowledge hand-off: the ai function ${what}; the periodic drain will index`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * 4 ** (attempt - 1)))
    }
  })
}

async function handOff(accessToken: string): Promise<number> {
  const response = await fetch(`${aiFunctionUrl()}/knowledge/drain`, {
    method: 'POST',
    headers: asUserHeaders(accessToken),
    body: '{}',
    signal: AbortSignal.timeout(15_000),
  })
  await response.body?.cancel()
  return response.status
}
