import type { Block } from '../blocknote/schema.ts'
import { checklistItems, removeBlocks, setChecked } from '../blocknote/text.ts'
import type { Tx } from '../core/context.ts'
import { jsonParam } from '../db/columns.ts'

// The link between notes and tasks (imported by both, importing neither): checklist items and their tasks (docs/adr/0007-checklist-sync.md). Each checkListItem block of
// a note is mirrored by one task (source 'note', source_reference {note_id, block_id}). Saving the
// note creates, renames, checks and removes tasks; a task's done/todo state flows back into the
// block's `checked`. Tasks the user edited keep their title.

const MAX_TITLE = 500
const UNTITLED = 'Untitled task'

/** A task title from a block's text: its first 500 characters, or a placeholder for an empty item. */
export const taskTitle = (text: string) => (text ? Array.from(text).slice(0, MAX_TITLE).join('') : UNTITLED)

export interface SyncResult {
  created: number
  updated: number
  removed: number
}

/**
 * Brings a note's tasks in line with its checklist blocks in one statement: tasks of blocks that
 * are gone are deleted, new blocks get tasks, and existing tasks are renamed (unless the user edited
 * them) and moved to done or back to todo as their block is checked or unchecked. Tasks already in
 * step are not touched, so their updated_at (their ETag) stays.
 */
export async function syncChecklist(
  tx: Tx,
  userId: string,
  noteId: string,
  content: Block[],
): Promise<SyncResult> {
  const items = checklistItems(content).map((item) => ({
    block_id: item.blockId,
    title: taskTitle(item.text),
    checked: item.checked,
  }))
  const [result] = await tx<SyncResult[]>`
    with items as (
      select * from jsonb_to_recordset(${jsonParam(tx, items)}) as i (block_id text, title text, checked boolean)
    ), removed as (
      delete from public.tasks t
      where t.user_id = ${userId} and t.note_id = ${noteId} and t.source = 'note'
        and not exists (select 1 from items i where i.block_id = t.source_reference ->> 'block_id')
      returning 1
    ), saved as (
      insert into public.tasks as t (user_id, note_id, title, status, completed_at, source, source_reference,
                                     created_at, updated_at)
      select ${userId}, ${noteId}, i.title,
             case when i.checked then 'done' else 'todo' end::public.task_status,
             case when i.checked then now() end,
             'note', jsonb_build_object('note_id', ${noteId}::uuid, 'block_id', i.block_id),
             i.made_at, i.made_at
      -- clock_timestamp() per item, in document order: a note's new tasks list in the order of its checklist.
      from (select items.*, clock_timestamp() as made_at from items) i
      on conflict (user_id, note_id, (source_reference ->> 'block_id')) where source = 'note' do update set
        title = case when t.edited_by_user then t.title else excluded.title end,
        status = case when excluded.status = 'done' then 'done'
                      when t.status = 'done' then 'todo'
                      else t.status end,
        completed_at = case when excluded.status = 'done' then coalesce(t.completed_at, now())
                            when t.status = 'done' then null
                            else t.completed_at end
      where (not t.edited_by_user and t.title <> excluded.title)
         or ((excluded.status = 'done') <> (t.status = 'done'))
      returning (xmax = 0) as created
    )
    select (select count(*) from saved where created)::int as created,
           (select count(*) from saved where not created)::int as updated,
           (select count(*) from removed)::int as removed`
  return result
}

async function lockedContent(tx: Tx, noteId: string): Promise<Block[] | undefined> {
  const [note] = await tx<
    { content: Block[] }[]
  >`select content from public.notes where id = ${noteId} for update`
  return note?.content
}

async function saveContent(tx: Tx, noteId: string, content: Block[]): Promise<void> {
  await tx`update public.notes set content = ${jsonParam(tx, content)} where id = ${noteId}`
}

/** A task's done/todo state, written into its block's `checked` (when the block's state differs). */
export async function reflectTaskState(
  tx: Tx,
  noteId: string,
  blockId: string,
  done: boolean,
): Promise<void> {
  const content = await lockedContent(tx, noteId)
  if (!content) return
  const current = checklistItems(content).find((item) => item.blockId === blockId)
  if (!current || current.checked === done) return
  const next = setChecked(content, blockId, done)
  if (next) await saveContent(tx, noteId, next)
}

/** Deleted tasks take their blocks with them; otherwise the note's next save would bring them back. */
export async function removeTaskBlocks(tx: Tx, noteId: string, blockIds: readonly string[]): Promise<void> {
  const content = await lockedContent(tx, noteId)
  const next = content && removeBlocks(content, new Set(blockIds))
  if (next) await saveContent(tx, noteId, next)
}
