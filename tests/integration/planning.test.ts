import { app as planning } from '../../functions/planning/app.ts'
import { inProcess } from '../helpers/domain.ts'
import { planningScenarios } from '../scenarios/planning.ts'

planningScenarios(inProcess({ planning }, 'planning'))
