import { test as base } from 'vitest'
import { adminSql, createUser } from './stack.ts'

/**
 * vitest's `test` with the fixtures most test files need; a test names those it wants in its first
 * parameter, `async ({ sql, ada }) => …`, and gets them from its context:
 *
 * - `sql`, a connection as postgres (BYPASSRLS, as on hosted), for arranging rows and checking what changed;
 * - `ada` and `bob`, two users signed up through the stack's auth service (so each has a profile).
 *
 * Each is made once per test file (`scope: 'file'`), for the first test or `beforeAll` that asks for
 * it, and shared by the file's other tests; the connection is closed after the file's last test.
 * A file that needs fixtures of its own extends this one at its top level:
 * `const it = test.extend('lists', { scope: 'file' }, async ({ sql }) => …)`.
 */
export const test = base
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads what a fixture needs from this pattern.
  .extend('sql', { scope: 'file' }, ({}, { onCleanup }) => {
    // postgres.js connects on the first query, so a test that never queries opens nothing.
    const sql = adminSql()
    onCleanup(() => sql.end())
    return sql
  })
  .extend('ada', { scope: 'file' }, () => createUser('ada'))
  .extend('bob', { scope: 'file' }, () => createUser('bob'))

/** The same test under the name most files use. */
export const it = test
