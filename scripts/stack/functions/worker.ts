// Runs one edge function under Deno the way Supabase's edge runtime does: the function's own
// `Deno.serve(handler)` is bound to the port the gateway chose, and `EdgeRuntime.waitUntil` exists.
// Usage: FUNCTION_PORT=<port> deno run -A scripts/stack/functions/worker.ts <absolute entrypoint path>.

interface DenoServeOptions {
  port?: number
  hostname?: string
  signal?: AbortSignal
  onError?: (error: unknown) => Response | Promise<Response>
  onListen?: (address: { port: number; hostname: string }) => void
}
type Handler = (request: Request) => Response | Promise<Response>
interface DenoLike {
  args: string[]
  stdin: { readable: ReadableStream<Uint8Array> }
  env: { get(name: string): string | undefined }
  serve(options: DenoServeOptions, handler: Handler): unknown
  exit(code: number): never
  kill(pid: number, signal: string): void
  pid: number
}

const deno = (globalThis as unknown as { Deno: DenoLike }).Deno
const [entrypoint] = deno.args
const port = Number(deno.env.get('FUNCTION_PORT'))
if (!entrypoint || !port) {
  console.error('usage: FUNCTION_PORT=<port> deno run -A worker.ts <entrypoint>')
  deno.exit(2)
}

// The stack holds the other end of stdin and never writes to it: it closes when the stack's
// process ends in any way (kill -9 included), and the worker goes with it.
void (async () => {
  try {
    const reader = deno.stdin.readable.getReader()
    while (!(await reader.read()).done) {
      // nothing is ever sent
    }
  } finally {
    // Not Deno.exit: under --watch that ends only the program, and the watcher stays.
    deno.kill(deno.pid, 'SIGTERM')
  }
})()

const serve = deno.serve.bind(deno)
deno.serve = ((optionsOrHandler: DenoServeOptions | Handler, maybeHandler?: Handler) => {
  const handler = typeof optionsOrHandler === 'function' ? optionsOrHandler : (maybeHandler as Handler)
  const { signal, onError } = typeof optionsOrHandler === 'function' ? {} : optionsOrHandler
  return serve(
    {
      signal,
      onError,
      port,
      hostname: '127.0.0.1',
      // The gateway waits for this line before it routes requests here.
      onListen: () => console.log(`listening on ${port}`),
    },
    handler,
  )
}) as DenoLike['serve']

;(globalThis as unknown as { EdgeRuntime: unknown }).EdgeRuntime = {
  waitUntil(promise: Promise<unknown>) {
    promise.catch((error) => console.error('background task failed:', error))
  },
}

await import(new URL(`file://${entrypoint}`).href)

export {}
