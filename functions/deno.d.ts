// For tsc (Node types) only: the one Deno API the functions use, in functions/*/index.ts.
// `deno check` never loads this file; it has Deno's own types.
declare const Deno: {
  serve(handler: (request: Request) => Response | Promise<Response>): unknown
}
