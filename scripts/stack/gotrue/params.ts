import type { Context } from 'hono'
import { readBodyWithin } from '../body.ts'
import { AuthError, badRequest } from './errors.ts'

/** GoTrue refuses bodies over 1 MiB (api.go: limitRequestBody(1 << 20)). */
const MAX_BODY_BYTES = 1 << 20
/** bcrypt reads only 72 bytes, so GoTrue refuses longer passwords (password.go). */
const MAX_PASSWORD_BYTES = 72
/** badoux/checkmail's ValidateFormat, which GoTrue's validateEmail uses. */
const EMAIL_FORMAT =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/

export type Params = Record<string, unknown>

const tooLarge = () =>
  new AuthError(413, 'request_entity_too_large', `Request body too large (max ${MAX_BODY_BYTES} bytes)`)
const badJson = (reason: string) => badRequest('bad_json', `Could not parse request body as JSON: ${reason}`)

/** The JSON object a request carries; like Go's json.Unmarshal into a struct, `null` reads as `{}`. */
export async function readParams(c: Context): Promise<Params> {
  const body = await readBodyWithin(c.req.raw, MAX_BODY_BYTES)
  if (!body) throw tooLarge()
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder().decode(body))
  } catch (error) {
    throw badJson((error as Error).message)
  }
  if (value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw badJson('expected a JSON object')
  return value as Params
}

/** A string field; absent and `null` read as '' (Go's zero value), any other type is malformed JSON. */
export function stringField(params: Params, name: string): string {
  const value = params[name]
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') throw badJson(`field ${name} must be a string`)
  return value
}

/** An object field, or `undefined` when absent or `null`. */
export function objectField(params: Params, name: string): Record<string, unknown> | undefined {
  const value = params[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) throw badJson(`field ${name} must be an object`)
  return value as Record<string, unknown>
}

/** GoTrue's validateEmail: required, at most 255 characters, checkmail's format; lowercased. */
export function validateEmail(email: string): string {
  if (!email) throw badRequest('validation_failed', 'An email address is required')
  if (email.length > 255) throw badRequest('validation_failed', 'An email address is too long')
  if (!EMAIL_FORMAT.test(email))
    throw badRequest('validation_failed', 'Unable to validate email address: invalid format')
  return email.toLowerCase()
}

/** GoTrue's checkPasswordStrength with the CLI's defaults: a minimum length, no character classes. */
export function checkPasswordStrength(password: string, minLength: number): void {
  const bytes = new TextEncoder().encode(password).length
  if (bytes > MAX_PASSWORD_BYTES) {
    throw badRequest('validation_failed', `Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`)
  }
  if (bytes < minLength) {
    throw new AuthError(422, 'weak_password', `Password should be at least ${minLength} characters.`, {
      weakPasswordReasons: ['length'],
    })
  }
}
