// Run by tests/integration/knowledge-deno.test.ts under Deno, as the local stack runs a function:
// the knowledge layer's libraries (the text splitter with js-tiktoken's ranks, the local embedding
// model read from its npm package, htmlparser2, unpdf) on the runtime the ai function uses.
import { chunkText } from '../../shared/knowledge/chunking.ts'
import { getEmbedder } from '../../shared/knowledge/embeddings.ts'
import { extractText } from '../../shared/knowledge/extract.ts'
import { makePdf } from './pdf.ts'

const chunks = await chunkText('# Garden\n\n## Roses\n\nPrune them in March.', { format: 'markdown' })
const embedder = await getEmbedder('local:use-lite')
const [rose, pruning, tax] = await embedder.embed([
  'Prune the roses',
  'Cut back rose bushes',
  'Pay the tax bill',
])
const cosine = (a: number[], b: number[]) => a.reduce((sum, value, i) => sum + value * b[i], 0)
const pdf = await extractText(makePdf([['Page one.'], ['Page two.']]), 'application/pdf')
const html = await extractText(new TextEncoder().encode('<h1>Title</h1><p>Body</p>'), 'text/html')
console.log(
  JSON.stringify({
    chunks: chunks.map((chunk) => [chunk.headingPath, chunk.content]),
    dimensions: rose.length,
    nearer: cosine(rose, pruning) > cosine(rose, tax),
    pdf: [pdf.text, pdf.pages],
    html: html.text,
  }),
)
