/**
 * A request's body, or null once it is longer than `limit` bytes: a declared Content-Length over
 * the limit is refused unread, and a chunked body is read only up to the limit, so a large upload
 * never sits in memory (the server discards the rest after the answer).
 */
export async function readBodyWithin(request: Request, limit: number): Promise<Uint8Array | null> {
  if (Number(request.headers.get('content-length') ?? 0) > limit) return null
  const reader = request.body?.getReader()
  if (!reader) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    size += chunk.value.length
    if (size > limit) {
      await reader.cancel()
      return null
    }
    chunks.push(chunk.value)
  }
  return Buffer.concat(chunks, size)
}
