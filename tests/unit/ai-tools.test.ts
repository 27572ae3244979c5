import { expect, it } from 'vitest'
import { crew, toolNames } from '../../shared/ai/crew.ts'
import { agentTools, parametersOf } from '../../shared/ai/tools.ts'

it('has a tool for every tool name an agent may be given, each calling a verb', () => {
  expect(Object.keys(agentTools).sort()).toEqual([...toolNames].sort())
  for (const agent of crew) for (const name of agent.tools) expect(agentTools[name], name).toBeDefined()
  for (const tool of Object.values(agentTools)) expect(tool.verbName).toMatch(/^[a-z]+\.[a-z_]+$/)
})

it('offers each tool’s parameters as the input side of its verb’s schema, as a JSON Schema object', () => {
  for (const tool of Object.values(agentTools)) {
    const parameters = parametersOf(tool.schema)
    expect(parameters.type, tool.name).toBe('object')
    expect(JSON.stringify(parameters)).not.toContain('$schema')
    expect(JSON.stringify(parameters).length, tool.name).toBeLessThan(8000)
  }
  const create = parametersOf(agentTools.create_task.schema) as {
    required: string[]
    properties: Record<string, { format?: string; pattern?: string }>
  }
  expect(create.required).toEqual(['title'])
  // A uuid says so by its format, not by zod's long regular expression.
  expect(create.properties.parent_id).toMatchObject({
    anyOf: [{ type: 'string', format: 'uuid' }, { type: 'null' }],
  })
  expect(JSON.stringify(create.properties.parent_id)).not.toContain('pattern')
})

it('lets approval see every change: each tool that writes proposes its change before it runs', () => {
  const reading = /^(list|read|search)_/
  const writing = Object.values(agentTools).filter((tool) => !reading.test(tool.name))
  expect(writing.map((tool) => tool.name)).toEqual(expect.arrayContaining(['delete_task', 'delete_note']))
  for (const tool of writing) expect(tool.propose, `${tool.name} proposes its change`).toBeTypeOf('function')
})
