import { HTTPException } from 'hono/http-exception'
import postgres from 'postgres'
import { describe, expect, it } from 'vitest'
import {
  ConflictError,
  DomainError,
  errorStatus,
  NotFoundError,
  PreconditionFailedError,
  ValidationError,
} from '../../shared/core/errors.ts'
import { toApiError } from '../../shared/http/errors.ts'

/** A Postgres error as postgres.js raises it, with the server's SQL-revealing message. */
const pgError = (code: string, message = 'relation "secret_table" violates "secret_constraint"') =>
  new postgres.PostgresError({ code, message, severity: 'ERROR', detail: 'Key (email)=(a@b.c)' } as never)

describe('DomainError', () => {
  it('carries the status of its code, as ARCHITECTURE.md fixes them', () => {
    expect(errorStatus).toEqual({
      invalid_json: 400,
      unauthorized: 401,
      invalid_credentials: 401,
      not_found: 404,
      method_not_allowed: 405,
      conflict: 409,
      precondition_failed: 412,
      payload_too_large: 413,
      unsupported_media_type: 415,
      validation_failed: 422,
      rate_limited: 429,
      internal: 500,
      provider_unavailable: 503,
    })
    expect(new DomainError('rate_limited', 'Slow down').status).toBe(429)
  })

  it('renders the envelope, with details only when there are some', () => {
    expect(new NotFoundError().toJSON('req-1')).toEqual({
      error: { code: 'not_found', message: 'Not found', request_id: 'req-1' },
    })
    expect(new ValidationError([{ path: 'title', message: 'Required' }]).toJSON('req-2')).toEqual({
      error: {
        code: 'validation_failed',
        message: 'The request is not valid',
        details: [{ path: 'title', message: 'Required' }],
        request_id: 'req-2',
      },
    })
  })

  it('has domain errors with the right codes', () => {
    expect([
      new NotFoundError(),
      new ConflictError(),
      new PreconditionFailedError(),
      new ValidationError([]),
    ]).toEqual([
      expect.objectContaining({ code: 'not_found', status: 404 }),
      expect.objectContaining({ code: 'conflict', status: 409 }),
      expect.objectContaining({ code: 'precondition_failed', status: 412 }),
      expect.objectContaining({ code: 'validation_failed', status: 422 }),
    ])
  })
})

describe('toApiError', () => {
  it('passes API errors through', () => {
    const error = new ConflictError('Taken')
    expect(toApiError(error)).toBe(error)
  })

  it('maps Hono’s HTTP exceptions to codes', () => {
    expect(toApiError(new HTTPException(400, { message: 'Malformed JSON in request body' }))?.code).toBe(
      'invalid_json',
    )
    expect(toApiError(new HTTPException(415))?.code).toBe('unsupported_media_type')
    expect(toApiError(new HTTPException(413))?.code).toBe('payload_too_large')
    expect(toApiError(new HTTPException(418))).toBeUndefined()
  })

  it.each([
    ['23505', 'conflict'],
    ['23503', 'validation_failed'],
    ['23502', 'validation_failed'],
    ['23514', 'validation_failed'],
    ['22P02', 'validation_failed'],
    ['22021', 'validation_failed'],
    ['22001', 'validation_failed'],
    ['22003', 'validation_failed'],
    ['22007', 'validation_failed'],
    ['22P05', 'validation_failed'],
    ['54000', 'validation_failed'],
    ['40001', 'conflict'],
    ['40P01', 'conflict'],
  ])('maps Postgres %s to %s without the SQL details', (code, expected) => {
    const error = toApiError(pgError(code))
    expect(error?.code).toBe(expected)
    expect(JSON.stringify(error?.toJSON('r'))).not.toMatch(/secret|email|Key/)
  })

  it('maps a row-level security refusal to 404 and a missing grant to a 500', () => {
    expect(
      toApiError(pgError('42501', 'new row violates row-level security policy for table "notes"'))?.code,
    ).toBe('not_found')
    expect(toApiError(pgError('42501', 'permission denied for table notes'))).toBeUndefined()
  })

  it('leaves unexpected failures to the 500 path', () => {
    expect(toApiError(pgError('42P01'))).toBeUndefined()
    expect(toApiError(new Error('boom'))).toBeUndefined()
    expect(toApiError('a string')).toBeUndefined()
    expect(toApiError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBeUndefined()
  })
})
