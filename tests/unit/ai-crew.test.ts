import { describe, expect, it } from 'vitest'
import {
  agentPrompt,
  builtinAgent,
  COORDINATOR_ID,
  crew,
  toolNames,
  withSettings,
} from '../../shared/ai/crew.ts'

describe('the built-in crew', () => {
  it('is a coordinator and the five specialists, with ids the agents table accepts', () => {
    expect(crew.map((agent) => agent.id)).toEqual([
      'coordinator',
      'planner',
      'task_manager',
      'goal_coach',
      'reflection_coach',
      'knowledge',
    ])
    // public.agents: agents_builtin_id_format, and agent_runs.agent_id's length.
    for (const agent of crew) expect(agent.id).toMatch(/^[a-z][a-z0-9_]{0,62}$/)
    for (const agent of crew) {
      expect(agent.name && agent.description && agent.role && agent.goal && agent.backstory).toBeTruthy()
    }
  })

  it('delegates only from the coordinator, to every specialist, so delegation cannot loop', () => {
    const coordinator = builtinAgent(COORDINATOR_ID)
    expect(coordinator?.delegatesTo).toEqual(
      crew.filter((agent) => agent.id !== COORDINATOR_ID).map((a) => a.id),
    )
    for (const agent of crew.filter((a) => a.id !== COORDINATOR_ID)) expect(agent.delegatesTo).toEqual([])
  })

  it('gives agents only known tools, each at most once, and changes only to those whose work it is', () => {
    for (const agent of crew) {
      expect(agent.tools.every((tool) => (toolNames as readonly string[]).includes(tool))).toBe(true)
      expect(new Set(agent.tools).size).toBe(agent.tools.length)
    }
    const writers = (tool: string) =>
      crew.filter((agent) => agent.tools.includes(tool as never)).map((a) => a.id)
    expect(writers('note_to_tasks')).toEqual(['task_manager'])
    expect(writers('delete_task')).toEqual(['task_manager'])
    expect(writers('create_reflection')).toEqual(['reflection_coach'])
    expect(writers('update_goal_progress')).toEqual(['goal_coach'])
    // The user's notes and documents are searched by the agent the user talks to and by the keeper of them.
    expect(writers('search_knowledge')).toEqual(['coordinator', 'knowledge'])
    // Every tool has an agent that may call it.
    for (const tool of toolNames) expect(writers(tool).length).toBeGreaterThan(0)
  })

  it('takes a user’s settings of a built-in agent over its defaults', () => {
    const planner = builtinAgent('planner')
    if (!planner) throw new Error('no planner')
    expect(withSettings(planner)).toMatchObject({
      model: null,
      temperature: 0.2,
      instructions: null,
      enabled: true,
    })
    expect(
      withSettings(planner, {
        model: 'anthropic:claude-haiku-4-5',
        temperature: null,
        instructions: 'Mornings are for deep work.',
        enabled: false,
      }),
    ).toMatchObject({
      model: 'anthropic:claude-haiku-4-5',
      temperature: 0.2,
      instructions: 'Mornings are for deep work.',
      enabled: false,
    })
  })

  it('writes an agent’s prompt from its role, goal and backstory, then the user’s instructions', () => {
    const planner = withSettings(builtinAgent('planner') as NonNullable<ReturnType<typeof builtinAgent>>, {
      model: null,
      temperature: null,
      instructions: 'Mornings are for deep work.',
      enabled: true,
    })
    const prompt = agentPrompt(planner)
    expect(
      prompt.startsWith('You are Planner, Planner of days and weeks.\n\nYour goal: Turn open tasks'),
    ).toBe(true)
    expect(prompt).toContain(planner.backstory)
    expect(prompt.endsWith("The user's instructions for you:\nMornings are for deep work.")).toBe(true)
    expect(agentPrompt({ ...planner, instructions: null })).not.toContain('instructions')
  })
})
