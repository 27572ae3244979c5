import { Parser } from 'htmlparser2'
import { inlineText } from '../blocknote/text.ts'
import type { Block } from '../blocknote/schema.ts'
import { DomainError, PayloadTooLargeError, ValidationError } from '../core/errors.ts'
import type { ChunkOptions, PageSpan } from './chunking.ts'

// What a document's bytes say, as text the chunker can cut and citations can point into: plain
// text and Markdown as they are, HTML as Markdown-like text (headings as `#`, the rest as lines),
// PDF page by page with unpdf (PDF.js; runs on Node and Deno). Refusals change nothing: they come
// before anything is stored.

/** An upload may be this large (bytes); the text of a document this many characters. */
export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

export const TEXT_TYPES = ['text/plain', 'text/markdown', 'text/html', 'application/pdf'] as const
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const
export type TextType = (typeof TEXT_TYPES)[number]
export type ImageType = (typeof IMAGE_TYPES)[number]

export class UnsupportedMediaTypeError extends DomainError {
  constructor(message: string) {
    super('unsupported_media_type', message)
    this.name = 'UnsupportedMediaTypeError'
  }
}

const ALIASES: Record<string, string> = {
  'text/x-markdown': 'text/markdown',
  'text/md': 'text/markdown',
  'application/xhtml+xml': 'text/html',
  'image/jpg': 'image/jpeg',
}

/** `Text/Markdown; charset=utf-8` → `text/markdown`. */
export function normalizeMimeType(raw: string): string {
  const type = raw.split(';')[0].trim().toLowerCase()
  return ALIASES[type] ?? type
}

export const isTextType = (type: string): type is TextType => (TEXT_TYPES as readonly string[]).includes(type)
export const isImageType = (type: string): type is ImageType =>
  (IMAGE_TYPES as readonly string[]).includes(type)

export function checkSize(bytes: number): void {
  if (bytes > MAX_DOCUMENT_BYTES) {
    throw new PayloadTooLargeError(`A document may be at most ${MAX_DOCUMENT_BYTES} bytes (10 MiB)`)
  }
}

/**
 * A file sent as base64: 413 past 10 MiB (judged from the length, before decoding: 4 characters for
 * 3 bytes, less the padding), 422 if it is not base64.
 */
export function decodeBase64(encoded: string, path = 'content_base64'): Uint8Array {
  const clean = encoded.replace(/\s+/g, '')
  const padding = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0
  checkSize(Math.floor((clean.length * 3) / 4) - padding)
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new ValidationError([{ path, message: 'Not valid base64' }])
  }
  const binary = atob(clean)
  // A plain loop: Uint8Array.from with a mapping function takes seconds for 10 MiB.
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

export interface Extracted {
  text: string
  format: ChunkOptions['format']
  pages?: PageSpan[]
}

const unreadable = (path: string, message: string) => new ValidationError([{ path, message }])

function utf8(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '')
  } catch {
    throw unreadable(path, 'The text is not valid UTF-8')
  }
}

const HEADINGS: Record<string, number> = { h1: 1, h2: 2, h3: 3, h4: 4, h5: 5, h6: 6 }
const SKIPPED = new Set(['script', 'style', 'noscript', 'template', 'head', 'svg', 'iframe', 'object'])
const BLOCKS = new Set([
  'p',
  'div',
  'section',
  'article',
  'main',
  'header',
  'footer',
  'aside',
  'nav',
  'blockquote',
  'pre',
  'ul',
  'ol',
  'li',
  'table',
  'tr',
  'dl',
  'dt',
  'dd',
  'figure',
  'figcaption',
  'hr',
  'br',
  'address',
  ...Object.keys(HEADINGS),
])

/** HTML as text: headings as Markdown headings, block elements as lines, scripts and styles left out. */
export function htmlToText(html: string): string {
  const lines: string[] = []
  let line = ''
  let skipping = 0
  let pre = 0
  const flush = () => {
    const text = pre > 0 ? line.replace(/\s+$/, '') : line.replace(/\s+/g, ' ').trim()
    if (text) lines.push(text)
    line = ''
  }
  const parser = new Parser(
    {
      onopentag(name) {
        if (SKIPPED.has(name)) skipping++
        if (skipping) return
        if (BLOCKS.has(name)) flush()
        if (name === 'pre') pre++
        if (HEADINGS[name]) {
          if (lines.length > 0 && lines[lines.length - 1] !== '') lines.push('')
          line = `${'#'.repeat(HEADINGS[name])} `
        } else if (name === 'li') line = '- '
        else if (name === 'td' || name === 'th') line += line ? ' | ' : ''
      },
      ontext(text) {
        if (!skipping) line += text
      },
      onclosetag(name) {
        if (SKIPPED.has(name)) {
          skipping = Math.max(0, skipping - 1)
          return
        }
        if (skipping) return
        if (BLOCKS.has(name)) {
          // A heading or paragraph stands apart, as Markdown writes it; list items and rows follow one another.
          const text = line
          flush()
          if (HEADINGS[name] || name === 'p' || name === 'pre' || name === 'blockquote') {
            if (text.trim()) lines.push('')
          }
        }
        if (name === 'pre') pre = Math.max(0, pre - 1)
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  )
  parser.write(html)
  parser.end()
  flush()
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}

/** A PDF's text, page by page, joined by blank lines, with where each page is. */
async function pdfText(bytes: Uint8Array, path: string): Promise<Extracted> {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 1024))
  if (!head.includes('%PDF-')) throw unreadable(path, 'The file is not a PDF')
  let pages: string[]
  try {
    const { extractText, getDocumentProxy } = await import('unpdf')
    // PDF.js takes the buffer over; a copy keeps the caller's bytes whole.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 })
    try {
      pages = (await extractText(pdf, { mergePages: false })).text
    } finally {
      await pdf.cleanup().catch(() => {})
    }
  } catch (error) {
    throw unreadable(
      path,
      `The PDF could not be read: ${(error as Error).message ?? 'unknown error'}`.slice(0, 300),
    )
  }
  let text = ''
  const spans: PageSpan[] = []
  pages.forEach((pageText, index) => {
    const clean = pageText.replace(/[ \t]+\n/g, '\n').trim()
    if (!clean) return
    if (text) text += '\n\n'
    spans.push({ page: index + 1, start: text.length, end: text.length + clean.length })
    text += clean
  })
  return { text, format: 'plain', pages: spans }
}

/**
 * The text of an upload of a text type. 415 for a type that is not one, 413 past 10 MiB, 422 for a
 * file that is not what its type says (not UTF-8, not a PDF, a corrupt PDF) or has no text at all.
 */
export async function extractText(
  bytes: Uint8Array,
  mimeType: string,
  path = 'content_base64',
): Promise<Extracted> {
  checkSize(bytes.byteLength)
  let extracted: Extracted
  switch (mimeType) {
    case 'text/plain':
      extracted = { text: utf8(bytes, path), format: 'plain' }
      break
    case 'text/markdown':
      extracted = { text: utf8(bytes, path), format: 'markdown' }
      break
    case 'text/html':
      extracted = { text: htmlToText(utf8(bytes, path)), format: 'markdown' }
      break
    case 'application/pdf':
      extracted = await pdfText(bytes, path)
      break
    default:
      throw new UnsupportedMediaTypeError(
        `Documents may be ${TEXT_TYPES.join(', ')} (or an image: ${IMAGE_TYPES.join(', ')}); not ${mimeType}`,
      )
  }
  if (extracted.text.trim() === '') throw unreadable(path, 'The document has no text')
  if (extracted.text.length > MAX_DOCUMENT_BYTES) {
    throw new PayloadTooLargeError('The text of a document may be at most 10 Mi characters')
  }
  return extracted
}

/** A note as Markdown-like text: its title as the top heading, headings as `#`, list items as `-`. */
export function noteText(title: string, blocks: readonly Block[]): string {
  const lines: string[] = []
  if (title.trim()) lines.push(`# ${title.trim()}`, '')
  const visit = (level: readonly Block[], depth: number) => {
    for (const block of level) {
      const indent = '  '.repeat(depth)
      const text = Array.isArray(block.content) ? inlineText(block.content).trim() : ''
      switch (block.type) {
        case 'heading': {
          // Under the note's title, a note's level-1 heading is a second level.
          const levelOf = Math.min(6, Number(block.props.level ?? 1) + (title.trim() ? 1 : 0))
          if (text) lines.push(`${'#'.repeat(levelOf)} ${text}`, '')
          break
        }
        case 'bulletListItem':
        case 'toggleListItem':
          if (text) lines.push(`${indent}- ${text}`)
          break
        case 'numberedListItem':
          if (text) lines.push(`${indent}1. ${text}`)
          break
        case 'checkListItem':
          if (text) lines.push(`${indent}- [${block.props.checked === true ? 'x' : ' '}] ${text}`)
          break
        case 'codeBlock':
          if (text) lines.push('```', text, '```', '')
          break
        case 'table': {
          const table = block.content as { rows?: Array<{ cells: unknown[] }> } | undefined
          for (const row of table?.rows ?? []) {
            const cells = row.cells.map((cell) =>
              inlineText(
                (Array.isArray(cell) ? cell : (cell as { content: Block['content'] }).content) as never,
              ).trim(),
            )
            if (cells.some(Boolean)) lines.push(cells.join(' | '))
          }
          lines.push('')
          break
        }
        default:
          if (text) lines.push(`${indent}${block.type === 'quote' ? '> ' : ''}${text}`, '')
          else if (typeof block.props.caption === 'string' && block.props.caption)
            lines.push(block.props.caption, '')
      }
      if (block.children?.length) visit(block.children, depth + 1)
    }
  }
  visit(blocks, 0)
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
}
