import { expect } from 'vitest'
import type { ErrorEnvelope } from '../../shared/core/errors.ts'

/** What an error response carries under `error`. */
export type ApiError = ErrorEnvelope['error']

export interface EnvelopeOptions {
  /** Prefixed to every failure, e.g. which of several bad inputs this was. */
  label?: string
}

const ENVELOPE_KEYS = ['code', 'message', 'details', 'request_id']

function parse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/**
 * An error response in the shared envelope (ARCHITECTURE.md): this status and code, JSON, a body of
 * exactly `{ error: { code, message, details?, request_id } }`, details (if any) as `{ path, message }`
 * pairs, and the `x-request-id` header equal to `request_id`. Returns the error for further checks.
 */
export async function expectErrorEnvelope(
  response: Response,
  status: number,
  code: string,
  options: EnvelopeOptions = {},
): Promise<ApiError> {
  const label = options.label
  const text = await response.text()
  const body = parse(text) as { error?: Partial<ApiError> } | undefined
  // Status and code side by side, with the start of the body, so a failure shows what came back.
  expect({ status: response.status, code: body?.error?.code, body: text.slice(0, 500) }, label).toEqual({
    status,
    code,
    body: expect.any(String),
  })
  expect(response.headers.get('content-type'), label).toMatch(/^application\/json/)
  expect(Object.keys(body ?? {}), label).toEqual(['error'])
  const error = body?.error as ApiError
  expect(
    Object.keys(error).filter((key) => !ENVELOPE_KEYS.includes(key)),
    label,
  ).toEqual([])
  expect(error.message, label).toEqual(expect.any(String))
  if (error.details !== undefined) {
    expect(error.details, label).toEqual(expect.any(Array))
    expect(error.details, label).toEqual(
      error.details.map(() => ({ path: expect.any(String), message: expect.any(String) })),
    )
  }
  expect(error.request_id, label).toEqual(expect.any(String))
  expect(error.request_id, label).toBe(response.headers.get('x-request-id'))
  return error
}
