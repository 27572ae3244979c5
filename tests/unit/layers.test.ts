import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// docs/adr/0020-layers.md: the folders of shared/ are layers whose imports point one way.

const SHARED = resolve(import.meta.dirname, '../../shared')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  )
}

/** The folder of shared/ a file is in ('config' for shared/config.ts). */
const folderOf = (file: string) => relative(SHARED, file).split('/')[0].replace(/\.ts$/, '')

/** folder → the folders of shared/ (or 'functions') its files import from. */
function importGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>()
  for (const file of sourceFiles(SHARED)) {
    const from = folderOf(file)
    const edges = graph.get(from) ?? new Set<string>()
    graph.set(from, edges)
    for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
      const target = resolve(file, '..', specifier)
      const to = target.startsWith(SHARED) ? folderOf(target) : 'outside shared'
      if (to !== from) edges.add(to)
    }
  }
  return graph
}

describe('the layers of shared/', () => {
  const graph = importGraph()
  const importsOf = (folder: string) => [...(graph.get(folder) ?? [])].sort()

  it('has a core that imports nothing of ours, and a db that imports only core and config', () => {
    expect(importsOf('core')).toEqual([])
    expect(importsOf('db')).toEqual(['config', 'core'])
  })

  it('keeps HTTP out of every other layer, and the functions out of shared/', () => {
    for (const [folder, edges] of graph) {
      if (folder !== 'http') expect(edges.has('http'), `${folder} imports http`).toBe(false)
      expect(edges.has('outside shared'), `${folder} imports outside shared/`).toBe(false)
    }
  })

  it('has no import cycle between folders', () => {
    const cycles: string[] = []
    const visit = (folder: string, path: string[]) => {
      for (const next of graph.get(folder) ?? []) {
        if (path.includes(next)) cycles.push([...path.slice(path.indexOf(next)), next].join(' → '))
        else visit(next, [...path, next])
      }
    }
    for (const folder of graph.keys()) visit(folder, [folder])
    expect(cycles).toEqual([])
  })
})
