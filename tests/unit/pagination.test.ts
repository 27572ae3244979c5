import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../shared/core/errors.ts'
import { decodeCursor, encodeCursor, listQuerySchema, page } from '../../shared/core/pages.ts'

describe('cursors', () => {
  it('round-trip keyset values, opaque and URL-safe', () => {
    const values = [
      '2026-11-25T10:20:30.123456Z',
      '7f1c2b9e-58a4-4a55-9f0e-2d7a4c1b3e60',
      3,
      null,
      true,
      'é/+?',
    ]
    const cursor = encodeCursor(values)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(cursor)).toEqual(values)
    expect(decodeCursor(cursor, 6)).toEqual(values)
  })

  it.each([
    ['not base64 at all', '!!!'],
    ['base64 of non-JSON', Buffer.from('hello').toString('base64url')],
    ['JSON that is not an array', Buffer.from('{"a":1}').toString('base64url')],
    ['an array with nested values', Buffer.from('[[1]]').toString('base64url')],
    ['invalid UTF-8', Buffer.from([0x5b, 0xff, 0x5d]).toString('base64url')],
  ])('refuse %s with 422 validation_failed on cursor', (_, cursor) => {
    const attempt = () => decodeCursor(cursor)
    expect(attempt).toThrow(ValidationError)
    try {
      attempt()
    } catch (error) {
      expect((error as ValidationError).status).toBe(422)
      expect((error as ValidationError).details).toEqual([{ path: 'cursor', message: expect.any(String) }])
    }
  })

  it('refuse a cursor of another shape', () => {
    expect(() => decodeCursor(encodeCursor(['a']), 2)).toThrow(ValidationError)
  })
})

describe('page', () => {
  const rows = [1, 2, 3, 4].map((n) => ({ id: `id-${n}`, at: `t${n}` }))
  const keyOf = (row: { id: string; at: string }) => [row.at, row.id]

  it('returns the rows and no cursor when there is no more', () => {
    expect(page(rows.slice(0, 3), 3, keyOf)).toEqual({ data: rows.slice(0, 3), next_cursor: null })
  })

  it('drops the look-ahead row and points the cursor after the last row returned', () => {
    const result = page(rows, 3, keyOf)
    expect(result.data).toEqual(rows.slice(0, 3))
    expect(decodeCursor(result.next_cursor as string)).toEqual(['t3', 'id-3'])
  })
})

describe('listQuerySchema', () => {
  it('defaults the limit to 50 and coerces query strings', () => {
    expect(listQuerySchema.parse({})).toEqual({ limit: 50 })
    expect(listQuerySchema.parse({ limit: '10', cursor: 'abc' })).toEqual({ limit: 10, cursor: 'abc' })
  })

  it.each(['0', '101', '2.5', 'ten', '-1'])('refuses limit=%s', (limit) => {
    expect(listQuerySchema.safeParse({ limit }).success).toBe(false)
  })
})
