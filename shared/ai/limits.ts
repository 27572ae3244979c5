import { env } from '../config.ts'

/** How much one user's runs may take (environment variables, read through shared/config.ts). */
export interface RunLimits {
  /** `AI_MAX_CONCURRENT_RUNS`: runs queued or running at once per user (default 2; 0: no limit). */
  maxActiveRuns: number
  /** `AI_RUNS_PER_MINUTE`: runs a user may start a minute (default 10; 0: no limit). */
  runsPerMinute: number
  /** `AI_MAX_MODEL_CALLS`: model calls in one run, the specialists' included (default 8). */
  maxModelCalls: number
  /** `AI_MAX_TOOL_CALLS`: tool calls in one run (default 16). */
  maxToolCalls: number
  /** `AI_RUN_TIMEOUT_MS`: the wall-clock limit of a run (default 120 s). */
  runTimeoutMs: number
  /** `AI_MODEL_TIMEOUT_MS`: how long a provider may stay silent (default 30 s). */
  modelTimeoutMs: number
  /** `AI_MAX_RETRIES`: retries of a provider call that failed with 5xx or a timeout (default 2). */
  maxRetries: number
  /** A run whose row has not moved for this long was cut off, and is marked failed (seconds). */
  staleAfterSeconds: number
  /** How often a working run moves its row and looks for a cancel from another instance. */
  heartbeatMs: number
  /** The least time between two `token` broadcasts (50 ms: at most 20 a second). */
  tokenIntervalMs: number
}

function count(name: string, fallback: number): number {
  const value = Number(env(name) ?? fallback)
  return Number.isInteger(value) && value >= 0 ? value : fallback
}

function read(): RunLimits {
  return {
    maxActiveRuns: count('AI_MAX_CONCURRENT_RUNS', 2),
    runsPerMinute: count('AI_RUNS_PER_MINUTE', 10),
    maxModelCalls: Math.max(1, count('AI_MAX_MODEL_CALLS', 8)),
    maxToolCalls: count('AI_MAX_TOOL_CALLS', 16),
    runTimeoutMs: Math.max(1000, count('AI_RUN_TIMEOUT_MS', 120_000)),
    modelTimeoutMs: Math.max(100, count('AI_MODEL_TIMEOUT_MS', 30_000)),
    maxRetries: count('AI_MAX_RETRIES', 2),
    staleAfterSeconds: 60,
    heartbeatMs: 5000,
    tokenIntervalMs: 50,
  }
}

let current: RunLimits | undefined

export function loadRunLimits(): RunLimits {
  current ??= read()
  return current
}

/** Tests change some limits; `undefined` goes back to the environment. */
export function setRunLimitsForTests(overrides: Partial<RunLimits> | undefined): void {
  current = overrides ? { ...read(), ...overrides } : undefined
}
