import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

// Images of known text, rendered by ImageMagick (Debian's /usr/bin/convert; .ci/run installs it) in
// DejaVu Sans: the fixtures of the transcription tests, made when they run rather than committed.

export const CONVERT = '/usr/bin/convert'
export const canRender = existsSync(CONVERT)

export function renderText(lines: string[], format: 'png' | 'jpeg' | 'webp' = 'png'): Uint8Array {
  if (!canRender) throw new Error(`${CONVERT} is missing: apt-get install imagemagick`)
  // A canvas sized to the text (about 20 px a character, 50 a line at 36 points), the text drawn on it.
  const width = 80 + 22 * Math.max(...lines.map((line) => line.length))
  const height = 80 + 50 * lines.length
  return new Uint8Array(
    execFileSync(CONVERT, [
      '-size',
      `${width}x${height}`,
      'xc:white',
      '-font',
      'DejaVu-Sans',
      '-pointsize',
      '36',
      '-fill',
      'black',
      '-annotate',
      '+40+70',
      lines.join('\n'),
      `${format}:-`,
    ]),
  )
}
