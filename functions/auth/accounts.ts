import { errorResponse } from '../../shared/http/openapi.ts'

/** What the auth routes add to the shared error responses: what Supabase Auth can refuse. */
export const accountErrors = {
  409: errorResponse(409, 'An account with this email address already exists (conflict)'),
  429: errorResponse(429, 'Too many attempts; see Retry-After (rate_limited)'),
  503: errorResponse(503, 'Supabase Auth is not configured or not reachable (provider_unavailable)'),
}

/** The caller's address as the gateway forwarded it: Supabase Auth limits each client, not us. */
export const clientAddress = (c: { req: { header(name: string): string | undefined } }) => ({
  clientAddress: c.req.header('x-forwarded-for'),
})
