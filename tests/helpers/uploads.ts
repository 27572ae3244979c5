import { crc32 } from 'node:zlib'

// Uploads of an exact size whose content is small: the bytes a body limit counts, and little for
// the extractor, the chunker or the OCR to do. An HTML page's script is skipped by the extractor;
// a PNG's private ancillary chunks by every decoder.

/** An HTML page of exactly `bytes` bytes: a heading and a paragraph, the rest a script's comment. */
export function paddedHtml(bytes: number, heading: string, paragraph: string): Uint8Array {
  const head = `<html><head><script>/*`
  const tail = `*/</script></head><body><h1>${heading}</h1><p>${paragraph}</p></body></html>`
  const padding = bytes - Buffer.byteLength(head) - Buffer.byteLength(tail)
  if (padding < 0) throw new Error('the page is larger than that already')
  return new TextEncoder().encode(`${head}${'x'.repeat(padding)}${tail}`)
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const typed = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(typed) >>> 0)
  return Buffer.concat([length, typed, crc])
}

/** The PNG grown to exactly `bytes` bytes with private chunks (`prVt`, at most 1 MiB each) before IEND. */
export function paddedPng(png: Uint8Array, bytes: number): Uint8Array {
  const image = Buffer.from(png)
  const iend = image.length - 12
  const pieces: Buffer[] = []
  let left = bytes - image.length
  if (left < 0) throw new Error('the image is larger than that already')
  while (left > 0) {
    if (left < 12) throw new Error('cannot pad by fewer than 12 bytes')
    let data = Math.min(left - 12, 1 << 20)
    // Never leave fewer bytes than a chunk's own 12 for the next one.
    if (left - 12 - data > 0 && left - 12 - data < 12) data -= 12
    pieces.push(pngChunk('prVt', Buffer.alloc(data)))
    left -= data + 12
  }
  return new Uint8Array(Buffer.concat([image.subarray(0, iend), ...pieces, image.subarray(iend)]))
}
