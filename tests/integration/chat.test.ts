import { afterAll } from 'vitest'
import { app } from '../../functions/chat/app.ts'
import { closeSql } from '../../shared/db/client.ts'
import { inProcess } from '../helpers/domain.ts'
import { chatScenarios } from '../scenarios/chat.ts'

afterAll(() => closeSql())

chatScenarios(inProcess({ chat: app }, 'chat'))
