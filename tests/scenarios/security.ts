import type postgres from 'postgres'
import type { SecuritySuiteOptions } from '../helpers/security.ts'
import type { TestUser } from '../helpers/stack.ts'

// What the shared security suite needs for the notes, tasks and planning functions: a row of the
// victim's for every route with an id, and bodies that would change the victim's data if let through.

type Fixture = (owner: TestUser, sql: postgres.Sql) => Promise<Record<string, string>>
type Options = Omit<SecuritySuiteOptions, 'app'>

const row = (table: string, values: (owner: TestUser) => Record<string, unknown>): Fixture => {
  return async (owner, sql) => {
    const [{ id }] =
      await sql`insert into ${sql(`public.${table}`)} ${sql({ user_id: owner.id, ...values(owner) } as Record<string, string>)} returning id`
    return { id }
  }
}

const note = row('notes', () => ({ title: 'victim’s note' }))
const task = row('tasks', () => ({ title: 'victim’s task' }))
const goal = row('goals', () => ({ title: 'victim’s goal', timeframe: 'yearly' }))
const reflection = row('reflections', () => ({ reflection_type: 'daily', content: 'victim’s reflection' }))

export const notesSecurity: Options = {
  name: 'notes',
  fixtures: { '/notes/{id}': note, '/notes/{id}/tasks': note },
  bodies: {
    'POST /notes': { title: 'pwned' },
    'PUT /notes/{id}': { title: 'pwned', is_archived: true },
  },
}

export const tasksSecurity: Options = {
  name: 'tasks',
  fixtures: { '/tasks/{id}': task, '/tasks/{id}/status': task },
  bodies: {
    'POST /tasks': { title: 'pwned' },
    'PUT /tasks/{id}': { title: 'pwned' },
    'PUT /tasks/{id}/status': { status: 'done' },
  },
}

export const planningSecurity: Options = {
  name: 'planning',
  fixtures: { '/planning/goals/{id}': goal, '/planning/reflections/{id}': reflection },
  bodies: {
    'POST /planning/goals': { title: 'pwned', timeframe: 'daily' },
    'PUT /planning/goals/{id}': { title: 'pwned', progress: 100 },
    'POST /planning/reflections': { reflection_type: 'daily', content: 'pwned' },
  },
}
