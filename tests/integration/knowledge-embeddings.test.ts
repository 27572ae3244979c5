import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { setAiConfigForTests } from '../../shared/config.ts'
import { DomainError } from '../../shared/core/errors.ts'
import { configuredEmbeddingModel, getEmbedder } from '../../shared/knowledge/embeddings.ts'
import { noProviders } from '../helpers/ai.ts'
import { type FakeEmbeddings, startFakeEmbeddings } from '../helpers/fake-embeddings.ts'

// The embedders behind one interface: the local model for real (its weights are in the npm
// package), OpenAI's through the real SDK against a fake server, gte-small through the calling
// convention of the edge runtime's Supabase.ai (which exists only on hosted Supabase).

const cosine = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * b[i], 0)

async function failure(call: Promise<unknown>): Promise<DomainError> {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(DomainError)
  return error as DomainError
}

afterEach(() => setAiConfigForTests(undefined))

describe('the local embedder (Universal Sentence Encoder Lite, offline)', () => {
  it('is the default here, and embeds texts as unit vectors of 512 dimensions that keep meaning', async () => {
    setAiConfigForTests(noProviders())
    expect(configuredEmbeddingModel()).toBe('local:use-lite')
    const embedder = await getEmbedder()
    const [cat, kitten, tax] = await embedder.embed([
      'The cat sleeps on the warm windowsill.',
      'A kitten naps in the sun by the window.',
      'File your quarterly tax return before the deadline.',
    ])
    for (const vector of [cat, kitten, tax]) {
      expect(vector).toHaveLength(512)
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5)
    }
    expect(cosine(cat, kitten)).toBeGreaterThan(cosine(cat, tax) + 0.1)
    expect(await embedder.embed([])).toEqual([])
  })

  it('lets the event loop run between texts: it computes on the thread that serves requests', async () => {
    setAiConfigForTests(noProviders())
    const embedder = await getEmbedder()
    await embedder.embed(['warm up'])
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    try {
      await embedder.embed(Array.from({ length: 6 }, (_, i) => `The compost heap number ${i} needs turning.`))
    } finally {
      clearInterval(timer)
    }
    expect(ticks).toBeGreaterThan(0)
  })

  it('embeds more texts than one batch holds, in order', async () => {
    const embedder = await getEmbedder('local:use-lite')
    const texts = Array.from({ length: 20 }, (_, i) => `Line ${i}: ${i % 2 ? 'gardening' : 'accounting'}`)
    const vectors = await embedder.embed(texts)
    expect(vectors).toHaveLength(20)
    const [again] = await embedder.embed([texts[17]])
    expect(cosine(vectors[17], again)).toBeCloseTo(1, 4)
  })
})

describe('the OpenAI embedder (text-embedding-3-small at 384)', () => {
  let fake: FakeEmbeddings
  beforeAll(async () => {
    fake = await startFakeEmbeddings()
  })
  afterAll(() => fake.close())

  it('asks the configured server for text-embedding-3-small at 384 dimensions', async () => {
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'sk-test', baseUrl: fake.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    expect(configuredEmbeddingModel()).toBe('openai:text-embedding-3-small')
    const embedder = await getEmbedder()
    const vectors = await embedder.embed(['roses in the garden', 'the garden roses', 'tax return'])
    expect(vectors.map((vector) => vector.length)).toEqual([384, 384, 384])
    expect(fake.requests.at(-1)).toMatchObject({ model: 'text-embedding-3-small', dimensions: 384 })
    expect(cosine(vectors[0], vectors[1])).toBeGreaterThan(cosine(vectors[0], vectors[2]))
  })

  it('reports a failing provider as provider_unavailable, and a missing key by its variable', async () => {
    setAiConfigForTests({
      ...noProviders(),
      openai: { apiKey: 'sk-test', baseUrl: fake.baseUrl },
      embeddingModel: 'openai:text-embedding-3-small',
    })
    fake.failNext(500, 3)
    const down = await failure((await getEmbedder()).embed(['anything']))
    expect(down.code).toBe('provider_unavailable')
    setAiConfigForTests({ ...noProviders(), embeddingModel: 'openai:text-embedding-3-small' })
    const unset = await failure(getEmbedder())
    expect(unset.status).toBe(503)
    expect(unset.message).toContain('OPENAI_API_KEY')
  })
})

describe('choosing the model', () => {
  afterEach(() => {
    delete (globalThis as { Supabase?: unknown }).Supabase
  })

  it('uses gte-small through Supabase.ai.Session where the runtime has it, mean-pooled and normalised', async () => {
    const calls: Array<{ model: string; input: string; options: unknown }> = []
    ;(globalThis as { Supabase?: unknown }).Supabase = {
      ai: {
        Session: class {
          constructor(readonly model: string) {}
          async run(input: string, options: unknown) {
            calls.push({ model: this.model, input, options })
            return new Float32Array(384).fill(2)
          }
        },
      },
    }
    setAiConfigForTests(noProviders())
    expect(configuredEmbeddingModel()).toBe('supabase:gte-small')
    const embedder = await getEmbedder()
    const vectors = await embedder.embed(['one', 'two'])
    expect(vectors.map((vector) => vector.length)).toEqual([384, 384])
    expect(Math.hypot(...vectors[0])).toBeCloseTo(1, 5)
    expect(calls).toEqual([
      { model: 'gte-small', input: 'one', options: { mean_pool: true, normalize: true } },
      { model: 'gte-small', input: 'two', options: { mean_pool: true, normalize: true } },
    ])
  })

  it('refuses gte-small where the runtime lacks it, and a model it does not know, naming the variable', async () => {
    setAiConfigForTests({ ...noProviders(), embeddingModel: 'supabase:gte-small' })
    expect((await failure(getEmbedder())).code).toBe('provider_unavailable')
    setAiConfigForTests({ ...noProviders(), embeddingModel: 'bge-small' })
    const unknown = await failure(Promise.resolve().then(() => configuredEmbeddingModel()))
    expect(unknown.message).toContain('AI_EMBEDDING_MODEL')
  })
})
