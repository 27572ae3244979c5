import { describe, expect, it } from 'vitest'
import { cronProblem, isTimeZone, nextOccurrence, normalizeCron } from '../../shared/ai/cron.ts'
import { effectiveTimeZone } from '../../shared/ai/schedules.ts'

// Schedules' cron expressions: five fields read in an IANA time zone, across daylight saving time.

const next = (cron: string, zone: string, after: string) =>
  nextOccurrence(cron, zone, new Date(after))?.toISOString()

describe('cron expressions', () => {
  it('takes five fields, with names, lists, ranges and steps, and refuses anything else with a reason', () => {
    expect(normalizeCron('  0   7 * *\t1-5 ')).toBe('0 7 * * 1-5')
    for (const ok of ['0 7 * * *', '0 18 * * 0', '*/15 9-17 * * MON-FRI', '0 8 1,15 * *', '0 0 29 2 *'])
      expect(cronProblem(ok), ok).toBeUndefined()
    expect(cronProblem('0 0 7 * * *')).toMatch(/five fields/)
    expect(cronProblem('@daily')).toMatch(/five fields/)
    expect(cronProblem('')).toMatch(/five fields/)
    expect(cronProblem('61 * * * *')).toMatch(/minute/)
    expect(cronProblem('0 25 * * *')).toMatch(/hour/)
    expect(cronProblem('0 7 * * FUNDAY')).toBeDefined()
    expect(cronProblem('0 0 30 2 *')).toMatch(/never comes round/)
  })

  it('knows IANA time zones and nothing else', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true)
    expect(isTimeZone('America/New_York')).toBe(true)
    expect(isTimeZone('UTC')).toBe(true)
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false)
    expect(isTimeZone('')).toBe(false)
  })

  it('answers the first time strictly after the given one', () => {
    expect(next('0 7 * * *', 'UTC', '2026-05-01T06:59:59Z')).toBe('2026-05-01T07:00:00.000Z')
    expect(next('0 7 * * *', 'UTC', '2026-05-01T07:00:00Z')).toBe('2026-05-02T07:00:00.000Z')
    // Sunday 18:00: 3 May 2026 is a Sunday.
    expect(next('0 18 * * 0', 'UTC', '2026-04-29T12:00:00Z')).toBe('2026-05-03T18:00:00.000Z')
  })

  it('keeps a morning time local across the spring and autumn changes (New York)', () => {
    // EST (UTC−5) until 8 March 2026, EDT (UTC−4) after.
    expect(next('0 7 * * *', 'America/New_York', '2026-03-06T13:00:00Z')).toBe('2026-03-07T12:00:00.000Z')
    expect(next('0 7 * * *', 'America/New_York', '2026-03-07T13:00:00Z')).toBe('2026-03-08T11:00:00.000Z')
    // Back to EST on 1 November 2026.
    expect(next('0 7 * * *', 'America/New_York', '2026-10-31T12:00:00Z')).toBe('2026-11-01T12:00:00.000Z')
  })

  it('runs a time the spring change skips right after the gap, and a repeated time once (Berlin)', () => {
    // 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist and runs at 03:00 CEST.
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z')).toBe('2026-03-29T01:00:00.000Z')
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-03-29T12:00:00Z')).toBe('2026-03-30T00:30:00.000Z')
    // 25 October 2026: 02:30 happens twice (CEST, then CET); a fixed time runs at the first only.
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z')).toBe('2026-10-25T00:30:00.000Z')
    expect(next('30 2 * * *', 'Europe/Berlin', '2026-10-25T00:30:00Z')).toBe('2026-10-26T01:30:00.000Z')
  })

  it('reads a schedule in its own zone, else the user’s preference, else UTC', () => {
    expect(effectiveTimeZone('Asia/Tokyo', { timezone: 'Europe/Berlin' })).toBe('Asia/Tokyo')
    expect(effectiveTimeZone(null, { timezone: 'Europe/Berlin' })).toBe('Europe/Berlin')
    expect(effectiveTimeZone(null, { time_zone: 'America/Chicago' })).toBe('America/Chicago')
    expect(effectiveTimeZone(null, { timezone: 'Nowhere/Land' })).toBe('UTC')
    expect(effectiveTimeZone(null, null)).toBe('UTC')
  })
})
