import { createApp } from '../../shared/http/app.ts'
import * as createGoal from './routes/create-goal.ts'
import * as createReflection from './routes/create-reflection.ts'
import * as deleteGoal from './routes/delete-goal.ts'
import * as deleteReflection from './routes/delete-reflection.ts'
import * as getGoal from './routes/get-goal.ts'
import * as getReflection from './routes/get-reflection.ts'
import * as listGoals from './routes/list-goals.ts'
import * as listReflections from './routes/list-reflections.ts'
import * as updateGoal from './routes/update-goal.ts'

export const app = createApp('planning')
for (const route of [
  listGoals,
  createGoal,
  getGoal,
  updateGoal,
  deleteGoal,
  listReflections,
  createReflection,
  getReflection,
  deleteReflection,
]) {
  route.register(app)
}
