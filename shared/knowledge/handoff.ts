import { env, loadConfig } from '../config.ts'
import { inBackground } from './background.ts'

// A saved note is indexed without anyone asking (docs/adr/0032): the notes function, once it has
// answered the save, asks the ai function over HTTP, with the user's own token, to drain the user's
// queue (functions never import each other; the embedders live in `ai`). The save's trigger has
// already queued the note, so a hand-off that fails loses nothing: the periodic drain finds it.

/** Where the ai function answers: `AI_FUNCTION_URL`, else the project's `/functions/v1/ai`. */
const aiFunctionUrl = () =>
  (env('AI_FUNCTION_URL') ?? `${loadConfig().supabaseUrl}/functions/v1/ai`).replace(/\/+$/, '')

/** After the response: POST ai/knowledge/drain as the user (EdgeRuntime.waitUntil keeps it going). */
export function requestIndexing(accessToken: string): void {
  inBackground('knowledge.handoff', async () => {
    const response = await fetch(`${aiFunctionUrl()}/knowledge/drain`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${accessToken}`,
        apikey: env('SUPABASE_ANON_KEY') ?? accessToken,
        'content-type': 'application/json',
      },
      body: '{}',
      signal: AbortSignal.timeout(15_000),
    })
    await response.body?.cancel()
    if (response.status !== 202) {
      console.warn(
        `knowledge hand-off: the ai function answered ${response.status}; the periodic drain will index`,
      )
    }
  })
}
