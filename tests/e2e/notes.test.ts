import { overHttp } from '../helpers/domain.ts'
import { securitySuite } from '../helpers/security.ts'
import { notesScenarios } from '../scenarios/notes.ts'
import { notesSecurity } from '../scenarios/security.ts'

const target = overHttp()
notesScenarios(target)
// The shared security suite over HTTP, through the gateway to the function under Deno.
await securitySuite({ ...notesSecurity, app: target.requestTarget })
