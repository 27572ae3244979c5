import { z } from 'zod'

// The built-in crew, declared CrewAI style: each agent is a role with a goal and a backstory, which
// become its system prompt, and the tools it may call. The coordinator is the agent a conversation
// talks to; it hands work to the specialists. Users add their own agents and change a built-in's
// model, temperature, extra instructions or enabled flag (public.agents, ADR 0019).

/** The tools agents may be given: one per service verb (the verbs come with the service layer). */
export const toolNames = [
  'search_tasks',
  'list_tasks',
  'create_task',
  'update_task',
  'update_tasks',
  'complete_task',
  'complete_tasks',
  'delete_task',
  'list_notes',
  'read_note',
  'create_note',
  'append_to_note',
  'delete_note',
  'note_to_tasks',
  'search_knowledge',
  'list_goals',
  'create_goal',
  'update_goal',
  'update_goal_progress',
  'delete_goal',
  'list_reflections',
  'create_reflection',
] as const
export type ToolName = (typeof toolNames)[number]
export const toolNameSchema = z.enum(toolNames)

export interface AgentDefinition {
  /** Stable, lower-case: what messages, runs and a user's settings refer to. */
  id: string
  name: string
  description: string
  role: string
  goal: string
  backstory: string
  tools: readonly ToolName[]
  /** `provider:model`; null: the deployment's default (`AI_DEFAULT_MODEL`). */
  defaultModel: string | null
  temperature: number
  /** The agents it may hand work to; only the coordinator delegates, so delegation cannot loop. */
  delegatesTo: readonly string[]
}

export const COORDINATOR_ID = 'coordinator'

const readTasks = ['search_tasks', 'list_tasks'] as const
const readNotes = ['list_notes', 'read_note'] as const
const readGoals = ['list_goals'] as const

const specialists: AgentDefinition[] = [
  {
    id: 'planner',
    name: 'Planner',
    description: 'Plans days and weeks from your tasks and goals.',
    role: 'Planner of days and weeks',
    goal: 'Turn open tasks and active goals into a realistic plan for the day or week: what to do when, what to drop.',
    backstory:
      'You have planned the calendars of busy people for years. You respect deadlines and energy alike, ' +
      'leave room for the unexpected, and say plainly when a plan does not fit in the time there is.',
    tools: [...readTasks, 'update_task', 'update_tasks', ...readGoals, ...readNotes],
    defaultModel: null,
    temperature: 0.2,
    delegatesTo: [],
  },
  {
    id: 'task_manager',
    name: 'Task manager',
    description: 'Turns notes into tasks, organises and prioritises them.',
    role: 'Task manager',
    goal: 'Keep the task list complete, current and ordered: capture tasks from what the user writes, update and complete them, and set priorities and due dates.',
    backstory:
      'You are meticulous and fast. Nothing the user mentions as a to-do gets lost, duplicates get merged, ' +
      'and every task says what done looks like.',
    tools: [
      ...readTasks,
      'create_task',
      'update_task',
      'update_tasks',
      'complete_task',
      'complete_tasks',
      'delete_task',
      ...readNotes,
      'note_to_tasks',
    ],
    defaultModel: null,
    temperature: 0.1,
    delegatesTo: [],
  },
  {
    id: 'goal_coach',
    name: 'Goal coach',
    description: 'Shapes goals into hierarchies and follows their progress.',
    role: 'Goal coach',
    goal: 'Help the user set clear goals from life to daily scale, break them into smaller ones, and keep their progress honest.',
    backstory:
      'You are an encouraging coach who asks good questions. You link every goal to the one above it and ' +
      'celebrate progress without pretending.',
    tools: [...readGoals, 'create_goal', 'update_goal', 'update_goal_progress', 'delete_goal', ...readTasks],
    defaultModel: null,
    temperature: 0.5,
    delegatesTo: [],
  },
  {
    id: 'reflection_coach',
    name: 'Reflection coach',
    description: 'Guides daily to yearly reflections and records them.',
    role: 'Reflection coach',
    goal: 'Guide the user through a reflection with a few good questions, then record it in their words.',
    backstory:
      'You listen more than you talk. You notice patterns across past reflections and bring them up gently.',
    tools: ['list_reflections', 'create_reflection', ...readGoals, ...readTasks],
    defaultModel: null,
    temperature: 0.7,
    delegatesTo: [],
  },
  {
    id: 'knowledge',
    name: 'Knowledge',
    description: 'Answers questions from your notes and documents, and writes down what you want to keep.',
    role: 'Keeper of the user’s notes',
    goal: 'Answer questions from what the user has written down or uploaded (search_knowledge finds the passages), citing where each answer comes from and saying when the notes do not say; write new notes, add to existing ones and delete them when asked.',
    backstory: 'You are a careful librarian: you quote rather than guess, and you never invent a source.',
    tools: ['search_knowledge', ...readNotes, 'create_note', 'append_to_note', 'delete_note', ...readTasks],
    defaultModel: null,
    temperature: 0.1,
    delegatesTo: [],
  },
]

const coordinator: AgentDefinition = {
  id: COORDINATOR_ID,
  name: 'Coordinator',
  description: 'Your assistant: answers you and hands work to the specialists.',
  role: 'Coordinator of a crew of planning assistants',
  goal: 'Understand what the user needs, answer directly when that is quickest, and otherwise hand the work to the right specialist and report back what was done.',
  backstory:
    'You lead a small crew: a planner, a task manager, a goal coach, a reflection coach and a knowledge ' +
    'keeper. You know what each does best, keep the user’s time in mind, and never claim a change you did not make.',
  tools: [...readTasks, ...readNotes, 'search_knowledge', ...readGoals],
  defaultModel: null,
  temperature: 0.3,
  delegatesTo: specialists.map((agent) => agent.id),
}

/** The built-in agents, the coordinator first. */
export const crew: readonly AgentDefinition[] = [coordinator, ...specialists]

export const builtinAgent = (id: string): AgentDefinition | undefined => crew.find((agent) => agent.id === id)

/** What a user may change about a built-in agent (a row of public.agents with `builtin_id`). */
export interface AgentSettings {
  model: string | null
  temperature: number | null
  instructions: string | null
  enabled: boolean
}

export interface ConfiguredAgent extends AgentDefinition {
  model: string | null
  instructions: string | null
  enabled: boolean
}

/** A built-in agent as one user has set it up. */
export function withSettings(agent: AgentDefinition, settings?: AgentSettings): ConfiguredAgent {
  return {
    ...agent,
    model: settings?.model ?? agent.defaultModel,
    temperature: settings?.temperature ?? agent.temperature,
    instructions: settings?.instructions ?? null,
    enabled: settings?.enabled ?? true,
  }
}

/** The agent's own part of its system prompt, CrewAI style: role, goal, backstory, the user's instructions. */
export function agentPrompt(
  agent: Pick<ConfiguredAgent, 'name' | 'role' | 'goal' | 'backstory' | 'instructions'>,
) {
  return [
    `You are ${agent.name}, ${agent.role}.`,
    `Your goal: ${agent.goal}`,
    agent.backstory,
    agent.instructions ? `The user's instructions for you:\n${agent.instructions}` : '',
  ]
    .filter(Boolean)
    .join('\n\n')
}
