import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { PROJECT_ROOT } from '../../paths.ts'
import { CONFIG_TOML, projectConfig } from '../project-config.ts'

const DENO_BIN = join(PROJECT_ROOT, 'node_modules', '.bin', 'deno')
const WORKER = join(PROJECT_ROOT, 'scripts', 'stack', 'functions', 'worker.ts')
const START_TIMEOUT_MS = 60_000

export interface FunctionSpec {
  name: string
  /** Absolute path of the function's index.ts. */
  entrypoint: string
  verifyJwt: boolean
}

/** The functions `supabase/config.toml` declares, as the CLI reads them (entrypoints relative to supabase/). */
export function declaredFunctions(configPath = CONFIG_TOML): FunctionSpec[] {
  return Object.entries(projectConfig(configPath).functions ?? {})
    .filter(([, fn]) => fn.enabled !== false)
    .map(([name, fn]) => ({
      name,
      entrypoint: resolve(dirname(configPath), fn.entrypoint ?? `./functions/${name}/index.ts`),
      verifyJwt: fn.verify_jwt ?? true,
    }))
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

export interface WorkerOptions {
  env: Record<string, string>
  /** Restart a function when its files change (`deno run --watch`). */
  watch?: boolean
  log?: (name: string, line: string) => void
}

/** One function running under Deno on its own loopback port, started again if it dies. */
export class FunctionWorker {
  port = 0
  private child: ChildProcess | null = null
  private ready: Promise<void> | null = null
  private stopping = false

  constructor(
    readonly spec: FunctionSpec,
    private readonly options: WorkerOptions,
  ) {}

  /** The Deno process's id while it runs. */
  get pid(): number | undefined {
    return this.child?.pid
  }

  /** Resolves once the function listens; starts it if it is not running. */
  async whenReady(): Promise<number> {
    if (!this.ready) this.ready = this.start()
    await this.ready
    return this.port
  }

  private async start(): Promise<void> {
    this.port = await freePort()
    const args = ['run', '-A', '--no-prompt', `--config=${join(PROJECT_ROOT, 'deno.json')}`]
    if (this.options.watch) args.push(`--watch=${join(PROJECT_ROOT, 'shared')}`, '--no-clear-screen')
    const child = spawn(DENO_BIN, [...args, WORKER, this.spec.entrypoint], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...this.options.env, FUNCTION_PORT: String(this.port), NO_COLOR: '1' },
      // stdin stays open, unwritten: the worker exits when it closes, so a stack that dies
      // (even by kill -9) takes its workers with it.
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    child.stdin?.on('error', () => {})
    this.child = child
    const log = this.options.log ?? ((name, line) => console.log(`[${name}] ${line}`))
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`function ${this.spec.name} did not start`)),
        START_TIMEOUT_MS,
      )
      const onLine = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          if (line === `listening on ${this.port}`) {
            clearTimeout(timer)
            resolveReady()
          } else if (line !== 'Watcher Process started.') log(this.spec.name, line)
        }
      }
      child.stdout?.on('data', onLine)
      child.stderr?.on('data', onLine)
      child.once('exit', (code) => {
        clearTimeout(timer)
        this.child = null
        this.ready = null
        if (!this.stopping)
          log(this.spec.name, `exited with code ${code}; it starts again on the next request`)
        reject(new Error(`function ${this.spec.name} exited with code ${code}`))
      })
    })
  }

  async stop(): Promise<void> {
    this.stopping = true
    const child = this.child
    if (!child) return
    await new Promise<void>((resolveExit) => {
      child.once('exit', () => resolveExit())
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 3000).unref()
    })
  }
}
