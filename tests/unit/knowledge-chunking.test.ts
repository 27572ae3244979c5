import { describe, expect, it } from 'vitest'
import { type Chunk, chunkText, countTokens } from '../../shared/knowledge/chunking.ts'

const sentence = (n: number) =>
  `Sentence number ${n} talks about the garden, the compost heap and the tomatoes that grow by the fence.`
const paragraph = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => sentence(from + i)).join(' ')

/** Every chunk is the text between its offsets, and no chunk is over the bound. */
function expectFaithful(text: string, chunks: Chunk[], bound: number) {
  expect(chunks.length).toBeGreaterThan(0)
  chunks.forEach((chunk, position) => {
    expect(chunk.index).toBe(position)
    expect(text.slice(chunk.charStart, chunk.charEnd)).toBe(chunk.content)
    expect(chunk.tokenCount).toBe(countTokens(chunk.content))
    expect(chunk.tokenCount).toBeLessThanOrEqual(bound)
  })
}

describe('chunkText', () => {
  it('cuts a long text into token-bounded slices that overlap their neighbours', async () => {
    const text = `${paragraph(1, 20)}\n\n${paragraph(21, 20)}`
    const chunks = await chunkText(text, { format: 'plain', chunkTokens: 100, overlapTokens: 30 })
    expectFaithful(text, chunks, 100)
    expect(chunks.length).toBeGreaterThan(8)
    // Within a paragraph, each chunk starts before the one before it ends: the overlap.
    const overlapping = chunks.slice(1).filter((chunk, i) => chunk.charStart < chunks[i].charEnd)
    expect(overlapping.length).toBeGreaterThan(chunks.length / 2)
    // Together they cover every sentence.
    for (let n = 1; n <= 40; n++) {
      expect(chunks.some((chunk) => chunk.content.includes(`number ${n} `))).toBe(true)
    }
  })

  it('keeps each passage under its headings, with the path of headings above it', async () => {
    const text = [
      '# Pets',
      '',
      'Animals we live with.',
      '',
      '## Cats',
      '',
      'Cats sleep most of the day.',
      '',
      '### Kittens',
      '',
      'Kittens play with string.',
      '',
      '## Dogs',
      '',
      'Dogs bark at the postman.',
      '',
      '# Plants',
      '## Roses',
      'Roses need pruning in March.',
    ].join('\n')
    const chunks = await chunkText(text, { format: 'markdown' })
    expectFaithful(text, chunks, 200)
    const where = (words: string) => chunks.find((chunk) => chunk.content.includes(words))
    expect(where('Animals we live with')?.headingPath).toEqual(['Pets'])
    expect(where('Cats sleep')?.headingPath).toEqual(['Pets', 'Cats'])
    expect(where('Kittens play')?.headingPath).toEqual(['Pets', 'Cats', 'Kittens'])
    expect(where('Dogs bark')?.headingPath).toEqual(['Pets', 'Dogs'])
    // A heading with nothing under it but another heading joins the section after it.
    expect(where('Roses need')?.headingPath).toEqual(['Plants', 'Roses'])
    expect(where('Roses need')?.content.startsWith('# Plants\n## Roses')).toBe(true)
    // No passage spans two sections.
    expect(
      chunks.filter((chunk) => chunk.content.includes('Cats sleep') && chunk.content.includes('Dogs')),
    ).toEqual([])
  })

  it('splits a long section within itself, each piece keeping the section’s headings', async () => {
    const text = `# Garden\n\n## Vegetables\n\n${paragraph(1, 30)}\n\n## Flowers\n\nTulips.`
    const chunks = await chunkText(text, { format: 'markdown', chunkTokens: 80, overlapTokens: 20 })
    expectFaithful(text, chunks, 80)
    const vegetables = chunks.filter((chunk) => chunk.headingPath.join('/') === 'Garden/Vegetables')
    expect(vegetables.length).toBeGreaterThan(3)
    expect(chunks.at(-1)).toMatchObject({
      headingPath: ['Garden', 'Flowers'],
      content: '## Flowers\n\nTulips.',
    })
  })

  it('reads no heading inside fenced code, and none at all in plain text', async () => {
    const text = '# Setup\n\n```sh\n# not a heading\necho hi\n```\n\nAfter the code.'
    const markdown = await chunkText(text, { format: 'markdown' })
    expect(markdown.map((chunk) => chunk.headingPath)).toEqual([['Setup']])
    const plain = await chunkText(text, { format: 'plain' })
    expect(plain.map((chunk) => chunk.headingPath)).toEqual([[]])
  })

  it('never lets a passage cross a page, and records the page it is on', async () => {
    const pages = [paragraph(1, 3), paragraph(4, 12), 'The last page is short.']
    let text = ''
    const spans = pages.map((page, i) => {
      if (i > 0) text += '\n\n'
      const start = text.length
      text += page
      return { page: i + 1, start, end: text.length }
    })
    const chunks = await chunkText(text, {
      format: 'plain',
      pages: spans,
      chunkTokens: 100,
      overlapTokens: 20,
    })
    expectFaithful(text, chunks, 100)
    for (const chunk of chunks) {
      const span = spans[(chunk.page ?? 0) - 1]
      expect(chunk.charStart).toBeGreaterThanOrEqual(span.start)
      expect(chunk.charEnd).toBeLessThanOrEqual(span.end)
    }
    expect(new Set(chunks.map((chunk) => chunk.page))).toEqual(new Set([1, 2, 3]))
    expect(chunks.at(-1)).toMatchObject({ page: 3, content: 'The last page is short.' })
  })

  it('gives nothing for a text of only whitespace, and page null where there are no pages', async () => {
    expect(await chunkText(' \n\n \t', { format: 'markdown' })).toEqual([])
    const [only] = await chunkText('  Short note.  ', { format: 'plain' })
    expect(only).toMatchObject({
      content: 'Short note.',
      charStart: 2,
      charEnd: 13,
      page: null,
      headingPath: [],
    })
  })

  it('cuts runs without white space (a pasted blob, CJK text) into faithful, bounded slices', async () => {
    // Counted whole, such a run cost time quadratic in its length: 10,000 characters took 30 s.
    const blob = `# Pasted\n\n${'QmFzZTY0'.repeat(25_000)}`
    const blobChunks = await chunkText(blob, { format: 'markdown' })
    expectFaithful(blob, blobChunks, 200)
    expect(blobChunks.map((chunk) => chunk.content).join('').length).toBeGreaterThanOrEqual(200_000)
    const poem = '春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。'.repeat(800)
    const poemChunks = await chunkText(poem, { format: 'plain' })
    expectFaithful(poem, poemChunks, 200)
    // Cut at the sentence and clause marks (each kept with the piece after it), where there are any.
    expect(poemChunks.every((chunk) => /^[。，]/.test(chunk.content) || chunk.charStart === 0)).toBe(true)
    // A window never parts a surrogate pair.
    const emoji = '🌱'.repeat(5_000)
    const emojiChunks = await chunkText(emoji, { format: 'plain' })
    expectFaithful(emoji, emojiChunks, 200)
    for (const chunk of emojiChunks) expect(chunk.content).toMatch(/^(🌱)+$/u)
  })

  it('lets the event loop run while it works, so other requests (and their transactions) go on', async () => {
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    try {
      await chunkText(`${paragraph(1, 400)}\n\n${'x'.repeat(50_000)}`, { format: 'plain' })
    } finally {
      clearInterval(timer)
    }
    expect(ticks).toBeGreaterThan(0)
  })
})
