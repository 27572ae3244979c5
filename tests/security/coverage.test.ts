import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { PROJECT_ROOT } from '../../scripts/paths.ts'

// The convention: tests/security/<function>.test.ts calls `securitySuite` (tests/helpers/security.ts).
it('runs the security suite for every function', () => {
  const functions = readdirSync(join(PROJECT_ROOT, 'functions'), { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() && existsSync(join(PROJECT_ROOT, 'functions', entry.name, 'app.ts')),
    )
    .map((entry) => entry.name)
  const missing = functions.filter(
    (name) => !existsSync(join(PROJECT_ROOT, 'tests', 'security', `${name}.test.ts`)),
  )
  expect(missing, 'functions without tests/security/<name>.test.ts').toEqual([])
})
