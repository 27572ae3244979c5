import { type Block, type InlineContent, walkBlocks } from './schema.ts'

/** The plain text of a block's rich text (links included), as the editor shows it. */
export function inlineText(content: Block['content']): string {
  if (!Array.isArray(content)) return ''
  const text = (items: readonly InlineContent[]): string =>
    items.map((item) => (item.type === 'link' ? text(item.content ?? []) : (item.text ?? ''))).join('')
  return text(content)
}

export interface ChecklistItem {
  blockId: string
  text: string
  checked: boolean
}

/** Every checkListItem block of a document, nested ones included, in document order. */
export function checklistItems(blocks: readonly Block[]): ChecklistItem[] {
  const items: ChecklistItem[] = []
  for (const block of walkBlocks(blocks)) {
    if (block.type === 'checkListItem') {
      items.push({
        blockId: block.id,
        text: inlineText(block.content).trim(),
        checked: block.props.checked === true,
      })
    }
  }
  return items
}

/** The document with one block's `checked` prop set; `undefined` when no checklist block has that id. */
export function setChecked(blocks: readonly Block[], blockId: string, checked: boolean): Block[] | undefined {
  let found = false
  const visit = (level: readonly Block[]): Block[] =>
    level.map((block) => {
      if (block.id === blockId && block.type === 'checkListItem') {
        found = true
        return { ...block, props: { ...block.props, checked } }
      }
      return block.children?.length ? { ...block, children: visit(block.children) } : block
    })
  const next = visit(blocks)
  return found ? next : undefined
}

/** The document without the given blocks, each one's children moved up into its place; `undefined` when none is there. */
export function removeBlocks(blocks: readonly Block[], blockIds: ReadonlySet<string>): Block[] | undefined {
  let found = false
  const visit = (level: readonly Block[]): Block[] =>
    level.flatMap((block) => {
      if (blockIds.has(block.id)) {
        found = true
        return visit(block.children ?? [])
      }
      return block.children?.length ? [{ ...block, children: visit(block.children) }] : [block]
    })
  const next = visit(blocks)
  return found ? next : undefined
}
