import { afterAll, expect, it } from 'vitest'
import { jsonbTextBytes } from '../../shared/notes/size.ts'
import { checkItem, paragraph, text } from '../helpers/domain.ts'
import { adminSql } from '../helpers/stack.ts'

// The API measures a note as Postgres prints its jsonb, the measure of the table's size check, so
// the 1 MiB cap refuses exactly what the database would.

const sql = adminSql()
afterAll(() => sql.end())

it.each([
  ['an empty document', []],
  ['a paragraph', [paragraph('p', 'hello')]],
  [
    'nesting, links and styles',
    [
      checkItem('c', 'done', true, [paragraph('q', 'x')]),
      { type: 'link', href: 'h', content: [text('a', { bold: true })] },
    ],
  ],
  ['escapes and unicode', [paragraph('e', 'quote " backslash \\ tab \t newline \n é 🎉 \u0001')]],
  [
    'numbers, booleans and nulls',
    [{ id: 'n', props: { level: 2, ratio: 0.5, big: 12345678, flag: false }, widths: [null, 3] }],
  ],
])('counts %s byte for byte as Postgres does', async (_, value) => {
  const [{ bytes }] = await sql`select octet_length(${sql.json(value as never)}::jsonb::text) as bytes`
  expect(jsonbTextBytes(value)).toBe(bytes)
})
