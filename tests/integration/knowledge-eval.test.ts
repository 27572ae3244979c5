import { afterAll, expect, it } from 'vitest'
import { setAiConfigForTests } from '../../shared/config.ts'
import { userContext } from '../../shared/core/context.ts'
import { closeSql } from '../../shared/db/client.ts'
import { withUserStatement } from '../../shared/db/with-user.ts'
import { verifyAccessToken } from '../../shared/http/require-user.ts'
import { processDocument } from '../../shared/knowledge/documents.ts'
import { getEmbedder, vectorLiteral } from '../../shared/knowledge/embeddings.ts'
import { noProviders } from '../helpers/ai.ts'
import { passages, questions } from '../fixtures/retrieval-eval.ts'
import { createUser } from '../helpers/stack.ts'

// The retrieval evaluation (tests/fixtures/retrieval-eval.ts): hit@5 of full text alone, the local
// model's vectors alone, and the two fused (public.search_knowledge), on the same corpus and questions.

afterAll(async () => {
  setAiConfigForTests(undefined)
  await closeSql()
})

it('scores hit@5: hybrid beats full text alone and vectors alone', { timeout: 120_000 }, async () => {
  setAiConfigForTests(noProviders())
  const user = await createUser('eval')
  const ctx = userContext(await verifyAccessToken(user.token))
  const sourceOf = new Map<string, string>()
  for (const [i, [key, text]] of Object.entries(passages).entries()) {
    const { document } = await processDocument({ ctx, input: { title: `Passage ${i + 1}`, text } })
    expect(document.status).toBe('ready')
    sourceOf.set(document.id, key)
  }
  const embedder = await getEmbedder('local:use-lite')
  const vectors = await embedder.embed(questions.map(([question]) => question))
  const modes = {
    text: (q: string) => [q, null, null] as const,
    vector: (_q: string, v: string) => ['', v, 'local:use-lite'] as const,
    hybrid: (q: string, v: string) => [q, v, 'local:use-lite'] as const,
  }
  const hits: Record<string, number> = {}
  const misses: Record<string, string[]> = {}
  for (const [mode, args] of Object.entries(modes)) {
    hits[mode] = 0
    misses[mode] = []
    for (const [i, [question, expected]] of questions.entries()) {
      const [text, vector, model] = args(question, vectorLiteral(vectors[i]))
      const rows = await withUserStatement(
        ctx,
        (tx) => tx<Array<{ document_id: string }>>`
          select document_id from public.search_knowledge(${text}, ${vector}::extensions.vector, ${model}, 5)`,
      )
      if (rows.some((row) => sourceOf.get(row.document_id) === expected)) hits[mode]++
      else misses[mode].push(question)
    }
  }
  const score = (mode: string) => hits[mode] / questions.length
  console.log(
    `retrieval evaluation, hit@5 over ${questions.length} questions and ${sourceOf.size} passages: ` +
      `full text ${score('text').toFixed(3)}, vector ${score('vector').toFixed(3)}, hybrid ${score('hybrid').toFixed(3)}`,
  )
  console.log('hybrid misses:', misses.hybrid)
  expect(score('hybrid')).toBeGreaterThan(score('text'))
  expect(score('hybrid')).toBeGreaterThan(score('vector'))
})
