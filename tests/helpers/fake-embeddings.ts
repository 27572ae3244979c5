import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

// A fake of OpenAI's embeddings API (POST /v1/embeddings) as the `openai` SDK calls it: `input` a
// string or a list, `dimensions`, `encoding_format` float or base64 (the SDK asks for base64 and
// decodes it), errors as `{"error": {message, type, code}}`. Its vectors are bags of words hashed
// into `dimensions` buckets: texts that share words are near, so retrieval through it is testable.

export interface EmbeddingsRequest {
  model: string
  input: string | string[]
  dimensions?: number
  encoding_format?: 'float' | 'base64'
}

export interface FakeEmbeddings {
  baseUrl: string
  requests: EmbeddingsRequest[]
  /** The next n requests answer with this status. */
  failNext(status: number, times?: number): void
  /** Answers every request again. */
  recover(): void
  close(): Promise<void>
}

function hash(word: string): number {
  let h = 2166136261
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619)
  return h >>> 0
}

/** The fake's vector of a text: its words hashed into buckets, unit length. */
export function bagOfWords(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0)
  for (const word of text.toLowerCase().match(/\p{L}+/gu) ?? []) vector[hash(word) % dimensions] += 1
  const length = Math.hypot(...vector) || 1
  return vector.map((value) => value / length)
}

const base64Of = (vector: number[]) => Buffer.from(new Float32Array(vector).buffer).toString('base64')

export async function startFakeEmbeddings(): Promise<FakeEmbeddings> {
  const requests: EmbeddingsRequest[] = []
  const failures: number[] = []
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      if (request.method !== 'POST' || request.url !== '/v1/embeddings') {
        return send(404, { error: { message: 'Not found', type: 'invalid_request_error', code: null } })
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as EmbeddingsRequest
      requests.push(body)
      const failure = failures.shift()
      if (failure) {
        return send(failure, {
          error: { message: 'The server had an error', type: 'server_error', code: null },
        })
      }
      const inputs = Array.isArray(body.input) ? body.input : [body.input]
      const dimensions = body.dimensions ?? 1536
      send(200, {
        object: 'list',
        model: body.model,
        data: inputs.map((text, index) => {
          const vector = bagOfWords(text, dimensions)
          return {
            object: 'embedding',
            index,
            embedding: body.encoding_format === 'base64' ? base64Of(vector) : vector,
          }
        }),
        usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) failures.push(status)
    },
    recover() {
      failures.length = 0
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
