import { afterAll, afterEach, expect, it } from 'vitest'
import { app } from '../../functions/ai/app.ts'
import { setAiConfigForTests } from '../../shared/config.ts'
import { closeSql } from '../../shared/db/client.ts'
import { noProviders } from '../helpers/ai.ts'
import { expectJson, inProcess } from '../helpers/domain.ts'
import { createUser } from '../helpers/stack.ts'
import { agentScenarios } from '../scenarios/ai.ts'

afterAll(() => closeSql())
afterEach(() => setAiConfigForTests(undefined))

agentScenarios(inProcess({ ai: app }, 'ai'))

it('GET ai/models names the configured providers, their models and variables, and no key or base URL', async () => {
  const user = await createUser('catalog')
  setAiConfigForTests({
    ...noProviders(),
    anthropic: { apiKey: 'sk-ant-very-secret', baseUrl: 'http://127.0.0.1:9/private' },
    openai: { apiKey: 'sk-openai-very-secret', baseUrl: undefined },
    defaultModel: 'anthropic:claude-haiku-4-5',
    fallbackModels: ['openai:gpt-4.1-mini', 'xai:grok-4'],
  })
  const response = await app.request('/ai/models', { headers: { authorization: `Bearer ${user.token}` } })
  const text = await response.clone().text()
  const catalog = await expectJson<{
    default_model: string
    fallback_models: string[]
    providers: Array<{ id: string; configured: boolean; models: string[] }>
  }>(response, 200)
  expect(catalog.default_model).toBe('anthropic:claude-haiku-4-5')
  expect(catalog.fallback_models).toEqual(['openai:gpt-4.1-mini', 'xai:grok-4'])
  const byId = Object.fromEntries(catalog.providers.map((provider) => [provider.id, provider]))
  expect(byId.anthropic).toMatchObject({
    configured: true,
    models: ['anthropic:claude-haiku-4-5', 'anthropic:claude-sonnet-4-5'],
  })
  expect(byId.openai).toMatchObject({ configured: true, models: ['openai:gpt-4.1-mini'] })
  expect(byId.xai).toMatchObject({ configured: false, models: [] })
  for (const secret of ['sk-ant-very-secret', 'sk-openai-very-secret', '127.0.0.1:9'])
    expect(text).not.toContain(secret)
})
