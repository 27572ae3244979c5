import type { z } from 'zod'
import type { ServiceContext } from './context.ts'
import { issueDetails, ValidationError } from './errors.ts'

/** What a verb's body receives: who asks, and the input its schema produced. */
export interface VerbArgs<Input> {
  ctx: ServiceContext
  input: Input
}

/**
 * A service verb: one thing a user (or an agent for them) can do, with the zod schema of its
 * input. Called as a function it validates the input first, so a caller that is not HTTP gets the
 * same `validation_failed` details a route answers with; `trusted` skips that for a caller that
 * has validated with these very schemas (the HTTP routes, which build their requests from them).
 */
export interface Verb<Schema extends z.ZodType, Output> {
  (args: VerbArgs<z.input<Schema>>): Promise<Output>
  /** e.g. 'notes.create': names the verb in traces, tools and idempotency scopes. */
  readonly verbName: string
  readonly input: Schema
  trusted(args: VerbArgs<z.output<Schema>>): Promise<Output>
}

/** The input a verb's schema accepts, as a validation error with one detail per problem if not. */
export function parseInput<Schema extends z.ZodType>(schema: Schema, input: unknown): z.output<Schema> {
  const parsed = schema.safeParse(input)
  if (!parsed.success) throw new ValidationError(issueDetails(parsed.error.issues))
  return parsed.data
}

export function defineVerb<Schema extends z.ZodType, Output>(
  verbName: string,
  input: Schema,
  run: (args: VerbArgs<z.output<Schema>>) => Promise<Output>,
): Verb<Schema, Output> {
  const verb = async ({ ctx, input: raw }: VerbArgs<z.input<Schema>>) =>
    run({ ctx, input: parseInput(input, raw) })
  return Object.assign(verb, { verbName, input, trusted: run })
}
