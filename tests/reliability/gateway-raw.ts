import { connect, type Socket } from 'node:net'

/** A response as it came over the wire, for checks that fetch would hide (resets, empty bodies). */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** A keep-alive connection that sends requests byte for byte and reads answers one at a time. */
export class RawConnection {
  private buffer = Buffer.alloc(0)
  private waiting: (() => void) | null = null
  closed = false

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk])
      this.waiting?.()
    })
    socket.on('close', () => {
      this.closed = true
      this.waiting?.()
    })
    socket.on('error', () => {})
  }

  static open(port: number, options: { localAddress?: string } = {}): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress: options.localAddress })
      socket.once('connect', () => resolve(new RawConnection(socket)))
      socket.once('error', reject)
    })
  }

  /** Writes now (synchronously into the kernel's buffer, as far as it goes). */
  write(text: string | Buffer): void {
    this.socket.write(text)
  }

  /** The next whole response; rejects if the connection closes first. */
  async read(): Promise<RawResponse> {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n')
      if (end >= 0) {
        const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n')
        const headers: Record<string, string> = {}
        for (const line of lines) {
          const colon = line.indexOf(':')
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
        }
        const length = Number(headers['content-length'] ?? 0)
        if (this.buffer.length >= end + 4 + length) {
          const body = this.buffer.subarray(end + 4, end + 4 + length).toString()
          this.buffer = this.buffer.subarray(end + 4 + length)
          return { status: Number(statusLine.split(' ')[1]), headers, body }
        }
      }
      if (this.closed) throw new Error(`the connection closed after ${this.buffer.length} bytes of an answer`)
      await new Promise<void>((resolve) => {
        this.waiting = resolve
      })
      this.waiting = null
    }
  }

  close(): void {
    this.socket.destroy()
  }
}

export function get(path: string, headers: Record<string, string> = {}): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`)
  return `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${lines.join('')}\r\n`
}

/** Blocks this whole process, its event loop included, for `ms`. */
export function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
