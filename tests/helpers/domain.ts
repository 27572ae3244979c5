import { request as httpRequest } from 'node:http'
import { expect } from 'vitest'
import type { RequestTarget } from './security.ts'
import { stack, type TestUser } from './stack.ts'

// One set of scenarios for the notes, tasks and planning functions runs twice: in process against
// the Hono app (integration) and over HTTP through the gateway to the function under Deno (e2e).

export interface CallOptions {
  user?: TestUser
  body?: unknown
  headers?: Record<string, string>
}

/** Calls a route by its function path ('/notes/…'), as the given user. */
export type Api = (method: string, path: string, options?: CallOptions) => Promise<Response>

export interface Target {
  /** 'integration' or 'e2e', for test names. */
  name: string
  api: Api
  /** What the shared security suite calls. */
  requestTarget: RequestTarget
}

function init(method: string, options: CallOptions): RequestInit {
  const headers: Record<string, string> = { ...options.headers }
  if (options.user) headers.authorization = `Bearer ${options.user.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  return {
    method,
    headers,
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  }
}

/** The apps in process, each called by its base path ('/notes/…' goes to `apps.notes`). */
export function inProcess(apps: Record<string, RequestTarget>, main: string): Target {
  return {
    name: 'integration',
    api: async (method, path, options = {}) => {
      const app = apps[path.split(/[/?]/)[1]]
      if (!app) throw new Error(`no app in process for ${path}`)
      return app.request(path, init(method, options))
    },
    requestTarget: apps[main],
  }
}

/**
 * A request on a connection of its own, closed afterwards: a server that refuses a large body
 * before reading all of it resets the connection, which must not be one that fetch reuses.
 */
export function requestOnce(url: string, requestInit: RequestInit): Promise<Response> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: requestInit.method, agent: false, headers: requestInit.headers as Record<string, string> },
      (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.on('end', () => {
          const headers = new Headers()
          for (const [name, value] of Object.entries(response.headers))
            if (typeof value === 'string') headers.set(name, value)
          resolve(new Response(Buffer.concat(chunks), { status: response.statusCode, headers }))
        })
      },
    )
    // The server may close the connection while the body is still being sent, once it has answered.
    request.on('error', reject)
    request.end(requestInit.body as string | undefined)
  })
}

const LARGE_BODY = 256 * 1024

/** The functions over HTTP through the stack's gateway, each running under Deno. */
export function overHttp(): Target {
  const request = (path: string, requestInit: RequestInit = {}) => {
    const url = `${stack.apiUrl}/functions/v1${path}`
    const large = typeof requestInit.body === 'string' && requestInit.body.length > LARGE_BODY
    return large ? requestOnce(url, requestInit) : fetch(url, requestInit)
  }
  return {
    name: 'e2e',
    api: (method, path, options = {}) => request(path, init(method, options)),
    requestTarget: { request },
  }
}

/** The body of a response that must have this status. */
export async function expectJson<T = Record<string, unknown>>(
  response: Response,
  status: number,
): Promise<T> {
  const text = await response.text()
  expect({ status: response.status, body: text.slice(0, 500) }).toEqual({ status, body: expect.any(String) })
  return JSON.parse(text) as T
}

/** The ETag a row must carry. */
export const etag = (row: { updated_at: unknown }) => `"${row.updated_at}"`

export interface Page<T> {
  data: T[]
  next_cursor: string | null
}

/**
 * Walks a list page by page (bounded), running `between` after each page, e.g. to insert rows
 * concurrently; returns every row seen, in order.
 */
export async function walkPages<T>(
  api: Api,
  path: string,
  user: TestUser,
  between: (pageIndex: number) => Promise<void> = async () => {},
  maxPages = 50,
): Promise<T[]> {
  const rows: T[] = []
  let cursor: string | null = null
  for (let index = 0; index < maxPages; index++) {
    const separator = path.includes('?') ? '&' : '?'
    const url: string = cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path
    const page: Page<T> = await expectJson<Page<T>>(await api('GET', url, { user }), 200)
    rows.push(...page.data)
    await between(index)
    cursor = page.next_cursor
    if (!cursor) return rows
  }
  throw new Error(`more than ${maxPages} pages at ${path}`)
}

// BlockNote blocks, as the editor writes them.
export const text = (value: string, styles: Record<string, unknown> = {}) => ({
  type: 'text',
  text: value,
  styles,
})

export const paragraph = (id: string, value: string, children: unknown[] = []) => ({
  id,
  type: 'paragraph',
  props: { textColor: 'default', backgroundColor: 'default', textAlignment: 'left' },
  content: [text(value)],
  children,
})

export const checkItem = (id: string, value: string, checked = false, children: unknown[] = []) => ({
  id,
  type: 'checkListItem',
  props: { textColor: 'default', backgroundColor: 'default', textAlignment: 'left', checked },
  content: [text(value)],
  children,
})
