import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

// Issue 12, fault 8: `kill -9` of the stack left its Deno workers running.

const orphans: number[] = []
afterAll(() => {
  for (const pid of orphans) if (alive(pid)) process.kill(pid, 'SIGKILL')
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('function workers', () => {
  it.each([
    ['run', '0'],
    ['run --watch (npm run dev)', '1'],
  ])('exit when the process that started them is killed with SIGKILL: deno %s', async (_, watch) => {
    const parent = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'gateway-worker-parent.ts')],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WORKER_WATCH: watch } },
    )
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      parent.stdout.on('data', (chunk) => {
        out += chunk
        if (out.includes('\n')) resolve(out.trim())
      })
      parent.once('exit', (code) =>
        reject(new Error(`the parent exited with ${code} before its worker started`)),
      )
    })
    const [parentPid, workerPid] = line.split(' ').map(Number)
    orphans.push(workerPid)
    expect(alive(workerPid)).toBe(true)

    process.kill(parentPid, 'SIGKILL')
    let gone = false
    for (let i = 0; i < 50 && !gone; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      gone = !alive(workerPid)
    }
    expect(gone, `worker ${workerPid} still runs after its parent was killed`).toBe(true)
  })
})
