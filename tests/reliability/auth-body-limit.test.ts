import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import { stack } from '../helpers/stack.ts'

// GoTrue refuses bodies over 1 MiB. A chunked upload has no Content-Length to refuse it by, so the
// service must stop reading at the limit: it used to read the whole body into memory first (one
// 300 MB upload doubled the stack's memory) and answered only once the client had sent it all.

const LIMIT = 1 << 20
const ANSWER_WITHIN_MS = 5_000

/**
 * Sends `bytes` of a chunked signup body through the gateway and keeps the request open, as a client
 * still uploading would; resolves with the answer, or with null when none came in time.
 */
function uploadWithoutEnding(bytes: number): Promise<{ status: number; body: unknown } | null> {
  const url = new URL(`${stack.apiUrl}/auth/v1/signup`)
  return new Promise((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        apikey: stack.anonKey,
        'content-type': 'application/json',
        'x-supabase-api-version': '2024-01-01',
        'transfer-encoding': 'chunked',
      },
    })
    const timer = setTimeout(() => {
      req.destroy()
      resolve(null)
    }, ANSWER_WITHIN_MS)
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        clearTimeout(timer)
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) })
      })
    })
    req.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.write('{"email":"big@example.test","password":"correct-horse","data":{"x":"')
    const chunk = Buffer.alloc(64 * 1024, 'x')
    for (let sent = 0; sent < bytes; sent += chunk.length) req.write(chunk)
  })
}

describe('the GoTrue service and a chunked body over its limit', () => {
  it('answers 413 in GoTrue error shape while the client is still sending', async () => {
    const answer = await uploadWithoutEnding(LIMIT + 128 * 1024)
    expect(answer, 'no answer until the upload ends: the whole body is being read').not.toBeNull()
    expect(answer).toEqual({
      status: 413,
      body: { code: 'request_entity_too_large', message: `Request body too large (max ${LIMIT} bytes)` },
    })
  })

  it('still reads a chunked body under the limit', async () => {
    const url = `${stack.apiUrl}/auth/v1/token?grant_type=password`
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"email":"nobody@example.test",'))
        controller.enqueue(new TextEncoder().encode('"password":"wrong-password"}'))
        controller.close()
      },
    })
    const response = await fetch(url, {
      method: 'POST',
      headers: { apikey: stack.anonKey, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ error_code: 'invalid_credentials' })
  })
})
