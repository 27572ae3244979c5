import { ErrorSchema } from '../http/openapi.ts'

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: ErrorSchema } },
})

/** The answers the auth routes add to the shared ones: what Supabase Auth can refuse. */
export const authErrorResponses = {
  409: errorResponse('An account with this email address already exists (conflict)'),
  429: errorResponse('Too many attempts; see Retry-After (rate_limited)'),
  503: errorResponse('Supabase Auth is not configured or not reachable (provider_unavailable)'),
} as const
