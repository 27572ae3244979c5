import { z } from '@hono/zod-openapi'
import { IdSchema } from '../core/schemas.ts'

/** The `{id}` of a row's path. */
export const IdParamsSchema = z.object({
  id: IdSchema.openapi({ param: { name: 'id', in: 'path' } }),
})
