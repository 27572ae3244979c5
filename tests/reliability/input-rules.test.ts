import { describe, expect } from 'vitest'
import { requestOnce } from '../helpers/domain.ts'
import { expectErrorEnvelope } from '../helpers/envelope.ts'
import { it } from '../helpers/fixtures.ts'
import { createUser, stack } from '../helpers/stack.ts'

// Issue 12, point 8: bodies and text that were read as something they are not.

/** A raw request through the gateway, with exactly these headers (fetch would add a Content-Type). */
const raw = (path: string, headers: Record<string, string>, body: string) =>
  requestOnce(`${stack.apiUrl}/functions/v1${path}`, { method: 'POST', headers, body })

describe('request bodies', () => {
  it('refuses a body with no Content-Type with 415, and stores nothing', async ({ sql }) => {
    const user = await createUser('typeless')
    const body = JSON.stringify({ title: 'Untyped note' })
    const auth = { authorization: `Bearer ${user.token}` }
    const sized = await raw('/notes', { ...auth, 'content-length': String(Buffer.byteLength(body)) }, body)
    await expectErrorEnvelope(sized, 415, 'unsupported_media_type')
    const chunked = await raw('/notes', { ...auth, 'transfer-encoding': 'chunked' }, body)
    await expectErrorEnvelope(chunked, 415, 'unsupported_media_type')
    const [{ count }] = await sql`select count(*)::int from public.notes where user_id = ${user.id}`
    expect(count).toBe(0)
  })

  it('refuses JSON in another charset than UTF-8 with 415, and takes utf-8 spelled any way', async () => {
    const user = await createUser('latin')
    const auth = { authorization: `Bearer ${user.token}` }
    const body = JSON.stringify({ title: 'Café' })
    const latin = await raw(
      '/notes',
      { ...auth, 'content-type': 'application/json; charset=iso-8859-1' },
      body,
    )
    await expectErrorEnvelope(latin, 415, 'unsupported_media_type')
    const utf8 = await raw('/notes', { ...auth, 'content-type': 'application/json; charset="UTF-8"' }, body)
    expect(utf8.status).toBe(201)
    expect((await utf8.json()).title).toBe('Café')
  })
})

describe('text fields', () => {
  it('refuse a lone surrogate in a title with 422, as in any other field, instead of storing U+FFFD', async ({
    sql,
  }) => {
    const user = await createUser('surrogate')
    const auth = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' }
    for (const title of ['"\\ud800"', '"a\\udc00b"', '"\\ud83d\\u0041"']) {
      const response = await raw('/notes', auth, `{"title": ${title}}`)
      await expectErrorEnvelope(response, 422, 'validation_failed', { label: title })
    }
    const pair = await raw('/notes', auth, '{"title": "\\ud83d\\ude00 and \\\\ud800 as text"}')
    expect(pair.status).toBe(201)
    expect((await pair.json()).title).toBe('😀 and \\ud800 as text')
    const [{ count }] = await sql`select count(*)::int from public.notes where user_id = ${user.id}`
    expect(count).toBe(1)
  })
})

describe('note links', () => {
  const doc = (href: string) => [
    {
      id: 'b1',
      type: 'paragraph',
      content: [{ type: 'link', href, content: [{ type: 'text', text: 'go' }] }],
    },
  ]

  it('take http, https and mailto links and refuse javascript:, data: and other schemes with 422', async () => {
    const user = await createUser('links')
    const auth = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' }
    for (const href of ['https://example.com/a?b=c', 'http://localhost:3000/', 'mailto:ada@example.com']) {
      const response = await raw('/notes', auth, JSON.stringify({ content: doc(href) }))
      expect(response.status, href).toBe(201)
    }
    for (const href of [
      'javascript:alert(1)',
      ' JavaScript:alert(1)',
      'java\tscript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox',
      'file:///etc/passwd',
      '/relative/path',
    ]) {
      const response = await raw('/notes', auth, JSON.stringify({ content: doc(href) }))
      await expectErrorEnvelope(response, 422, 'validation_failed', { label: href })
    }
  })
})
