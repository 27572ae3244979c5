// The embedded database's worker thread (scripts/stack/database.ts starts it). A worker does not
// inherit the loader that runs the stack's TypeScript (tsx, vitest), so it registers tsx itself.
import { register } from 'tsx/esm/api'

register()
await import('./database-worker.ts')
