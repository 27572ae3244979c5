import { z } from '@hono/zod-openapi'

// BlockNote's document format (the editor's `editor.document`, as JSON): an array of blocks
// `{id, type, props, content, children}` of the default schema's types, with rich text as inline
// content. Anything outside that schema is refused, so every stored note opens in the editor.

/** Nested children deeper than this are refused before the recursive schema walks them. */
export const MAX_BLOCK_DEPTH = 32

const StylesSchema = z
  .strictObject({
    bold: z.boolean(),
    italic: z.boolean(),
    underline: z.boolean(),
    strike: z.boolean(),
    code: z.boolean(),
    textColor: z.string().max(64),
    backgroundColor: z.string().max(64),
  })
  .partial()

export const StyledTextSchema = z.strictObject({
  type: z.literal('text'),
  text: z.string(),
  styles: StylesSchema.default({}),
})

/** Link schemes a note may hold: web pages and email. `javascript:`, `data:` and the rest could run code. */
const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:'])

const isWebLink = (href: string) => {
  try {
    return LINK_PROTOCOLS.has(new URL(href).protocol)
  } catch {
    return false
  }
}

export const LinkSchema = z.strictObject({
  type: z.literal('link'),
  href: z.string().max(8192).refine(isWebLink, 'A link must be an absolute http, https or mailto URL'),
  content: z.array(StyledTextSchema),
})

export const InlineContentSchema = z
  .discriminatedUnion('type', [StyledTextSchema, LinkSchema])
  .openapi('InlineContent')

const InlineContentListSchema = z.array(InlineContentSchema)

const TableCellSchema = z.strictObject({
  type: z.literal('tableCell'),
  props: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  content: InlineContentListSchema,
})

export const TableContentSchema = z
  .strictObject({
    type: z.literal('tableContent'),
    // JSON writes the editor's `undefined` widths as null.
    columnWidths: z.array(z.number().nonnegative().nullable()).optional(),
    headerRows: z.number().int().nonnegative().optional(),
    headerCols: z.number().int().nonnegative().optional(),
    rows: z.array(z.strictObject({ cells: z.array(z.union([InlineContentListSchema, TableCellSchema])) })),
  })
  .openapi('TableContent')

const PropValueSchema = z.union([z.string().max(8192), z.number(), z.boolean()])

/** Props every block type may carry; types that give a prop a meaning check its value. */
const props = (typed: z.ZodRawShape = {}) => z.object(typed).catchall(PropValueSchema).default({})

/** The types whose content is rich text, with the props whose values matter to us or the editor. */
const INLINE_BLOCKS = {
  paragraph: props(),
  heading: props({ level: z.number().int().min(1).max(6).optional(), isToggleable: z.boolean().optional() }),
  bulletListItem: props(),
  numberedListItem: props({ start: z.number().int().optional() }),
  checkListItem: props({ checked: z.boolean().optional() }),
  toggleListItem: props(),
  quote: props(),
  codeBlock: props({ language: z.string().max(64).optional() }),
} as const

/** The types without rich text: media, files and separators. */
const CONTENTLESS_BLOCKS = ['image', 'video', 'audio', 'file', 'divider', 'pageBreak'] as const

export const BLOCK_TYPES = [...Object.keys(INLINE_BLOCKS), 'table', ...CONTENTLESS_BLOCKS]

export interface InlineContent {
  type: 'text' | 'link'
  text?: string
  href?: string
  styles?: Record<string, string | boolean>
  content?: InlineContent[]
}

export interface Block {
  id: string
  type: string
  props: Record<string, string | number | boolean>
  content?: InlineContent[] | z.infer<typeof TableContentSchema>
  children: Block[]
}

const blockId = z.string().min(1).max(128)
const children = z.array(z.lazy((): z.ZodType<Block> => BlockSchema)).default([])

export const BlockSchema: z.ZodType<Block> = z
  .discriminatedUnion('type', [
    ...Object.entries(INLINE_BLOCKS).map(([type, blockProps]) =>
      z.strictObject({
        id: blockId,
        type: z.literal(type),
        props: blockProps,
        content: InlineContentListSchema.default([]),
        children,
      }),
    ),
    z.strictObject({
      id: blockId,
      type: z.literal('table'),
      props: props(),
      content: TableContentSchema,
      children,
    }),
    // No `content` key: the strict object refuses one.
    ...CONTENTLESS_BLOCKS.map((type) =>
      z.strictObject({ id: blockId, type: z.literal(type), props: props(), children }),
    ),
  ] as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]])
  .openapi('Block', {
    description: `A BlockNote block; type is one of ${BLOCK_TYPES.join(', ')}`,
  }) as unknown as z.ZodType<Block>

/** How deeply `children` nest (a flat document is 1), counted without recursion. */
function depthOf(blocks: unknown[]): number {
  let deepest = 0
  const stack: Array<[unknown[], number]> = [[blocks, 1]]
  while (stack.length > 0) {
    const [level, depth] = stack.pop() as [unknown[], number]
    if (level.length === 0) continue
    deepest = Math.max(deepest, depth)
    if (depth > MAX_BLOCK_DEPTH) return depth
    for (const block of level) {
      const nested = (block as { children?: unknown } | null)?.children
      if (Array.isArray(nested)) stack.push([nested, depth + 1])
    }
  }
  return deepest
}

/** Every block in document order, children after their parent. */
export function* walkBlocks(blocks: readonly Block[]): Generator<Block> {
  for (const block of blocks) {
    yield block
    // Stored documents were validated, but a row written by other means may lack `children`.
    if (block.children) yield* walkBlocks(block.children)
  }
}

/**
 * A BlockNote document: its nesting is bounded first (so a hostile document cannot exhaust the
 * stack), then every block is checked, then block ids must be unique, as the editor keeps them.
 */
export const DocumentSchema = z
  .array(z.unknown())
  .refine((blocks) => depthOf(blocks) <= MAX_BLOCK_DEPTH, {
    message: `Blocks may nest at most ${MAX_BLOCK_DEPTH} levels deep`,
  })
  .pipe(z.array(BlockSchema))
  .superRefine((blocks, ctx) => {
    const seen = new Set<string>()
    for (const block of walkBlocks(blocks)) {
      if (seen.has(block.id)) ctx.addIssue({ code: 'custom', message: `Block id ${block.id} is used twice` })
      seen.add(block.id)
    }
  })
  .openapi({ type: 'array', items: { $ref: '#/components/schemas/Block' } })
