import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

// Images of known text, rendered by ImageMagick (Debian's /usr/bin/convert; .ci/run installs it) in
// DejaVu Sans: the fixtures of the transcription tests, made when they run rather than committed.

export const CONVERT = '/usr/bin/convert'
export const canRender = existsSync(CONVERT)

export function renderText(lines: string[], format: 'png' | 'jpeg' = 'png'): Uint8Array {
  if (!canRender) throw new Error(`${CONVERT} is missing: apt-get install imagemagick`)
  return new Uint8Array(
    execFileSync(CONVERT, [
      '-background',
      'white',
      '-fill',
      'black',
      '-font',
      'DejaVu-Sans',
      '-pointsize',
      '36',
      `label:${lines.join('\n')}`,
      '-bordercolor',
      'white',
      '-border',
      '40',
      `${format}:-`,
    ]),
  )
}
