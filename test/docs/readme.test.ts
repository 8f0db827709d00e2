/**
 * Every ```ts block in README.md and docs/*.md is checked and run: it is written to `.tmp/` inside
 * the repository (so the package aliases in vitest.config.ts resolve `colloquy`, `colloquy/relay`,
 * …), type-checked against the sources, then imported; a block that does not type-check, throws or
 * rejects fails. A block fenced as ```ts no-run is type-checked but not run (for fragments that
 * only make sense inside an app, such as a storage adapter skeleton).
 *
 * Snippets must be quiet and tidy: no console output, and every socket, server and timer they
 * open is closed by the time they finish.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const tmp = join(root, '.tmp')

interface Block {
  /** `file:line` of the opening fence, relative to the repository root. */
  where: string
  code: string
  run: boolean
  /** Where the block is written to be checked and run. */
  path: string
}

/** The fenced blocks tagged `ts` in a Markdown file. */
const tsBlocks = (page: string): Block[] => {
  const name = relative(root, page)
  const stem = name
    .replace(/\.md$/, '')
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .toLowerCase()
  const lines = readFileSync(page, 'utf8').split('\n')
  const blocks: Block[] = []
  let open: { line: number; info: string; body: string[] } | null = null
  for (const [i, text] of lines.entries()) {
    const fence = /^\s*```(.*)$/.exec(text)
    if (!open) {
      if (fence) open = { line: i + 1, info: fence[1]!.trim(), body: [] }
      continue
    }
    if (fence && fence[1]!.trim() === '') {
      const [lang, ...flags] = open.info.split(/\s+/)
      if (lang === 'ts') {
        blocks.push({
          where: `${name}:${open.line}`,
          code: open.body.join('\n'),
          run: !flags.includes('no-run'),
          path: join(tmp, `${stem}-${blocks.length + 1}.ts`),
        })
      }
      open = null
      continue
    }
    open.body.push(text)
  }
  if (open) throw new Error(`${name}:${open.line}: unclosed code fence`)
  return blocks
}

const docsDir = join(root, 'docs')
const pages = [
  join(root, 'README.md'),
  ...(existsSync(docsDir) ? readdirSync(docsDir).filter((f) => f.endsWith('.md')) : [])
    .sort()
    .map((f) => join(docsDir, f)),
]
const blocks = pages.flatMap(tsBlocks)

/** Type errors in the snippets, as `file:line: message`, with the package names mapped to the sources. */
const typeErrors = (files: string[]): string[] => {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile)
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  const program = ts.createProgram(files, {
    ...options,
    noEmit: true,
    baseUrl: root,
    paths: {
      colloquy: ['./src/index.ts'],
      'colloquy/relay': ['./relay/index.ts'],
      'colloquy/testing': ['./src/testing/index.ts'],
      'colloquy/storage/*': ['./src/storage/*.ts'],
    },
  })
  const wanted = new Set(files)
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || wanted.has(d.file.fileName))
    .map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n')
      if (!d.file || d.start === undefined) return text
      const block = blocks.find((b) => b.path === d.file!.fileName)
      const { line } = d.file.getLineAndCharacterOfPosition(d.start)
      return `${block?.where ?? d.file.fileName} (+${line + 1}): ${text}`
    })
}

/** Handles that keep a process alive: what a snippet must not leave behind. */
const liveHandles = (): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === 'Timeout' || kind.startsWith('TCP')) counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return counts
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

beforeAll(() => {
  mkdirSync(tmp, { recursive: true })
  for (const block of blocks) writeFileSync(block.path, `${block.code}\n`)
})

afterAll(() => {
  for (const block of blocks) rmSync(block.path, { force: true })
})

describe('documentation snippets', () => {
  it('README.md has the quick-start snippets', () => {
    expect(blocks.filter((b) => b.where.startsWith('README.md:') && b.run).length).toBeGreaterThanOrEqual(2)
  })

  it('type-check against the sources', () => {
    expect(typeErrors(blocks.map((b) => b.path))).toEqual([])
  }, 60_000)

  for (const block of blocks.filter((b) => b.run)) {
    it(`${block.where} runs`, async () => {
      expect(block.code, 'snippets do not print').not.toMatch(/\bconsole\./)
      const before = liveHandles()
      await import(/* @vite-ignore */ pathToFileURL(block.path).href)
      // Closing sockets and servers completes on the next turns of the event loop.
      await settle(100)
      for (const [kind, count] of liveHandles()) {
        expect(count, `${block.where} leaves a ${kind} open`).toBeLessThanOrEqual(before.get(kind) ?? 0)
      }
    })
  }
})
