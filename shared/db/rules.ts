import type { DomainError } from '../core/errors.ts'

/** What each named database rule (a constraint, or a trigger's `constraint` name) means to a client. */
export type RuleErrors = Record<string, () => DomainError>

/**
 * Runs `work` and answers a broken rule the way the domain states it (e.g. a tree cycle is a 409
 * naming the field), instead of the generic 422 that an anonymous constraint error becomes.
 */
export async function withRules<T>(rules: RuleErrors, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    const name = (error as { constraint_name?: unknown } | null)?.constraint_name
    const domainError = typeof name === 'string' && Object.hasOwn(rules, name) ? rules[name] : undefined
    if (domainError) throw domainError()
    throw error
  }
}
