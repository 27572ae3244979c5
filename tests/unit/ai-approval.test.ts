import { describe, expect, it } from 'vitest'
import { approvalPolicyOf, approvalReason, BULK_APPROVAL_ROWS } from '../../shared/ai/approval.ts'
import type { ProposedChange } from '../../shared/ai/tools.ts'

const change = (operation: ProposedChange['operation'], count: number): ProposedChange => ({
  operation,
  table: 'tasks',
  count,
  rows: [],
  summary: `${operation} ${count}`,
})

describe('the approval policy', () => {
  it('is the preference ai.approval, destructive unless it is one of the three', () => {
    expect(approvalPolicyOf({ ai: { approval: 'never' } })).toBe('never')
    expect(approvalPolicyOf({ ai: { approval: 'always' } })).toBe('always')
    for (const preferences of [null, {}, { ai: {} }, { ai: { approval: 'sometimes' } }, { ai: 'always' }]) {
      expect(approvalPolicyOf(preferences)).toBe('destructive')
    }
  })

  it('holds back deletes and changes of more than 10 rows under destructive, every change under always', () => {
    expect(BULK_APPROVAL_ROWS).toBe(10)
    const cases: Array<[ProposedChange, string | null, string | null, string | null]> = [
      // change, never, destructive, always
      [change('delete', 1), null, 'delete', 'delete'],
      [change('update', 10), null, null, 'write'],
      [change('update', 11), null, 'bulk', 'bulk'],
      [change('create', 1), null, null, 'write'],
      [change('create', 50), null, 'bulk', 'bulk'],
      // A call that would change nothing needs no one's word.
      [change('delete', 0), null, null, null],
      [change('update', 0), null, null, null],
    ]
    for (const [proposed, never, destructive, always] of cases) {
      expect([
        approvalReason('never', proposed),
        approvalReason('destructive', proposed),
        approvalReason('always', proposed),
      ]).toEqual([never, destructive, always])
    }
  })
})
