import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters'
import { Tiktoken } from 'js-tiktoken/lite'
import cl100k_base from 'js-tiktoken/ranks/cl100k_base'
import { yieldToOthers } from './background.ts'

// Text → passages a citation can point at: split at headings first (so a passage never straddles two
// sections, and knows the headings above it), then, inside a section, at paragraphs, lines, sentences
// and words until each piece is at most `chunkTokens` tokens, neighbours sharing `overlapTokens`.
// Tokens are counted with cl100k_base (OpenAI's tokenizer, shipped in js-tiktoken's package: no
// download), a fair measure for every embedding model here. Every chunk is a verbatim slice of the
// text: `text.slice(charStart, charEnd) === content`.

export const CHUNK_TOKENS = 200
export const CHUNK_OVERLAP_TOKENS = 40

export interface Chunk {
  /** Its position in the source, from 0. */
  index: number
  content: string
  /** The headings above the passage, outermost first (`['Pets', 'Cats']`); empty when there are none. */
  headingPath: string[]
  /** The page the passage starts on (from 1), for sources that have pages (PDF); else null. */
  page: number | null
  /** Where the passage is in the source's text: `text.slice(charStart, charEnd)`. */
  charStart: number
  charEnd: number
  tokenCount: number
}

/** A page of a paged source: where it is in the text. */
export interface PageSpan {
  page: number
  start: number
  end: number
}

export interface ChunkOptions {
  /** `markdown` splits at ATX headings (`#` … `######`, outside fenced code); `plain` does not. */
  format: 'markdown' | 'plain'
  /** The pages of a paged source: a passage never crosses a page, and records its page. */
  pages?: readonly PageSpan[]
  chunkTokens?: number
  overlapTokens?: number
}

let encoder: Tiktoken | undefined

/** A run this long without white space is counted a window at a time (countTokens). */
const LONG_RUN = /\S{64}/
const COUNT_WINDOW = 64

/**
 * The number of cl100k_base tokens in `text`. BPE merges each word as a whole, in time quadratic in
 * its length, so a text with a run of 64 or more characters without white space (a pasted blob, a
 * long URL, CJK text) is counted 64 characters at a time: linear, and at most a token or so more
 * per window than the exact count.
 */
export function countTokens(text: string): number {
  encoder ??= new Tiktoken(cl100k_base)
  if (!LONG_RUN.test(text)) return encoder.encode(text, [], []).length
  let count = 0
  for (let start = 0; start < text.length; start += COUNT_WINDOW)
    count += encoder.encode(text.slice(start, start + COUNT_WINDOW), [], []).length
  return count
}

interface Section {
  start: number
  end: number
  headingPath: string[]
  page: number | null
}

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/
const FENCE = /^ {0,3}(`{3,}|~{3,})/

/** The sections of a Markdown text: each starts at a heading (or at the start) and runs to the next. */
function markdownSections(text: string, from: number, to: number, page: number | null): Section[] {
  const sections: Section[] = []
  const path: Array<{ level: number; title: string }> = []
  let fence: string | undefined
  let sectionStart = from
  let sectionPath: string[] = []
  let offset = from
  while (offset < to) {
    const newline = text.indexOf('\n', offset)
    const lineEnd = newline === -1 || newline >= to ? to : newline
    const line = text.slice(offset, lineEnd)
    const fenceMatch = FENCE.exec(line)
    if (fenceMatch) {
      const marker = fenceMatch[1]
      if (fence === undefined) fence = marker[0].repeat(marker.length)
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined
    } else if (fence === undefined) {
      const heading = HEADING.exec(line)
      if (heading) {
        if (offset > sectionStart)
          sections.push({ start: sectionStart, end: offset, headingPath: sectionPath, page })
        const level = heading[1].length
        while (path.length > 0 && path[path.length - 1].level >= level) path.pop()
        path.push({ level, title: heading[2].trim() })
        sectionStart = offset
        sectionPath = path.map((entry) => entry.title).filter(Boolean)
      }
    }
    offset = lineEnd + 1
  }
  if (to > sectionStart) sections.push({ start: sectionStart, end: to, headingPath: sectionPath, page })
  return mergeBareHeadings(text, sections)
}

/** A section that is only its heading line (`# Title` then `## Part`) joins the section after it. */
function mergeBareHeadings(text: string, sections: Section[]): Section[] {
  const merged: Section[] = []
  let pendingStart: number | undefined
  for (const [position, section] of sections.entries()) {
    const body = text.slice(section.start, section.end).replace(/^.*(\n|$)/, '')
    const bare = section.headingPath.length > 0 && body.trim() === ''
    const next = sections[position + 1]
    if (bare && next && next.page === section.page) {
      pendingStart ??= section.start
      continue
    }
    merged.push(pendingStart === undefined ? section : { ...section, start: pendingStart })
    pendingStart = undefined
  }
  return merged
}

function sectionsOf(text: string, options: ChunkOptions): Section[] {
  const spans = options.pages?.length ? options.pages : [{ page: 0, start: 0, end: text.length }]
  return spans.flatMap((span) => {
    const page = options.pages?.length ? span.page : null
    return options.format === 'markdown'
      ? markdownSections(text, span.start, span.end, page)
      : [{ start: span.start, end: span.end, headingPath: [], page }]
  })
}

/** Characters a last-resort piece holds: at most 4 tokens a character, well within a chunk. */
const WINDOW_CHARS = 32

/**
 * The splitter, but its last resort (a run with no separator left: a pasted blob, a long URL) cuts
 * windows of characters rather than single characters, whose counting and merging back cost a token
 * count per character (a 1 MiB word took minutes). A window never parts a surrogate pair, so every
 * chunk stays a slice of the text as written.
 */
class WindowedSplitter extends RecursiveCharacterTextSplitter {
  protected override splitOnSeparator(text: string, separator: string): string[] {
    if (separator !== '') return super.splitOnSeparator(text, separator)
    const windows: string[] = []
    for (let start = 0; start < text.length; ) {
      let end = Math.min(text.length, start + WINDOW_CHARS)
      const last = text.charCodeAt(end - 1)
      if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--
      windows.push(text.slice(start, end))
      start = end
    }
    return windows
  }
}

/** Pieces whose counts one chunkText call remembers (each at most `chunkTokens * 16` characters). */
const COUNT_CACHE_ENTRIES = 10_000

/** Splits `text` into heading-aware, token-bounded, overlapping chunks with their positions. */
export async function chunkText(text: string, options: ChunkOptions): Promise<Chunk[]> {
  const chunkTokens = options.chunkTokens ?? CHUNK_TOKENS
  const overlapTokens = options.overlapTokens ?? CHUNK_OVERLAP_TOKENS
  // Counting a long run without spaces (a pasted blob, a long URL, CJK text) takes time quadratic in
  // its length (BPE merges a word as a whole), and the splitter counts a piece again at every
  // separator it tries: 10,000 characters of one word took 30 s. A piece this long is never
  // counted: it is taken as too long for a chunk (as it almost always is), and cut smaller.
  const countable = chunkTokens * 16
  // The splitter counts the same piece many times over (each window of a run, every merge that
  // holds the same text): a repeated run (a pasted blob, one word a MiB long) is then mostly the same
  // few strings. Counted once each, that 1 MiB note chunks in a fraction of the time.
  const counted = new Map<string, number>()
  const count = (piece: string) => {
    let tokens = counted.get(piece)
    if (tokens === undefined) {
      tokens = countTokens(piece)
      if (counted.size >= COUNT_CACHE_ENTRIES) counted.clear()
      counted.set(piece, tokens)
    }
    return tokens
  }
  let lastYield = performance.now()
  const splitter = new WindowedSplitter({
    chunkSize: chunkTokens,
    chunkOverlap: overlapTokens,
    // Kept with the piece after them, so that every chunk is a slice of the text as written.
    keepSeparator: true,
    // Sentence and clause marks of Chinese and Japanese too, which put no spaces between words.
    separators: ['\n\n', '\n', '. ', '? ', '! ', '。', '？', '！', '; ', '；', ', ', '，', '、', ' ', ''],
    lengthFunction: async (piece) => {
      // Counting is the splitter's work: let the event loop run every few milliseconds of it.
      if (performance.now() - lastYield > 10) {
        await yieldToOthers()
        lastYield = performance.now()
      }
      return piece.length > countable ? piece.length : count(piece)
    },
  })
  const chunks: Chunk[] = []
  for (const section of sectionsOf(text, options)) {
    const body = text.slice(section.start, section.end)
    if (body.trim() === '') continue
    let searchFrom = 0
    for (const piece of await splitter.splitText(body)) {
      if (performance.now() - lastYield > 10) {
        await yieldToOthers()
        lastYield = performance.now()
      }
      const content = piece.trim()
      if (content === '') continue
      let at = body.indexOf(content, searchFrom)
      // The splitter only trims the pieces it cuts, so a piece is always found; this keeps the
      // offsets honest should a later version rewrite whitespace.
      if (at === -1) at = body.indexOf(content)
      if (at === -1) throw new Error('A chunk is not a slice of its text')
      searchFrom = at + 1
      chunks.push({
        index: chunks.length,
        content,
        headingPath: section.headingPath,
        page: section.page,
        charStart: section.start + at,
        charEnd: section.start + at + content.length,
        tokenCount: count(content),
      })
    }
  }
  return chunks
}
