// @vitest-environment happy-dom
/**
 * The ```tsx blocks of docs/react.md: each is type-checked against the sources, and each that is
 * not fenced `no-run` is run in a DOM with a `#root` element, as an app's entry point would be. The
 * quick start must show its conversation and send a message typed into its composer. (The page's
 * ```ts blocks run with the other documentation snippets, test/docs/readme.test.ts.)
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { act, fireEvent, screen } from '@testing-library/react'
import type { Root } from 'react-dom/client'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { Client } from '../../src/index.js'

// (the DOM environment has its own URL class: paths are built from the module's file path)
const root = join(dirname(fileURLToPath(import.meta.url)), '../..')
const tmp = join(root, '.tmp')
const page = join(root, 'docs/react.md')

/** Every React root a snippet creates, to unmount it afterwards. */
const roots = vi.hoisted(() => [] as Root[])
vi.mock('react-dom/client', async (importOriginal) => {
  const actual = await importOriginal<typeof import('react-dom/client')>()
  return {
    ...actual,
    createRoot: (...args: Parameters<typeof actual.createRoot>) => {
      const created = actual.createRoot(...args)
      roots.push(created)
      return created
    },
  }
})

interface Block {
  where: string
  path: string
  code: string
  run: boolean
}

const blocks: Block[] = []
{
  let open: { line: number; flags: string[]; body: string[] } | null = null
  for (const [i, text] of readFileSync(page, 'utf8').split('\n').entries()) {
    const fence = /^```(.*)$/.exec(text)
    if (!open) {
      const [lang, ...flags] = (fence?.[1] ?? '').trim().split(/\s+/)
      if (fence && lang === 'tsx') open = { line: i + 1, flags, body: [] }
      continue
    }
    if (fence) {
      const n = blocks.length + 1
      blocks.push({
        where: `docs/react.md:${open.line}`,
        path: join(tmp, `react-docs-tsx-${n}.tsx`),
        code: open.body.join('\n'),
        run: !open.flags.includes('no-run'),
      })
      open = null
      continue
    }
    open.body.push(text)
  }
}

beforeAll(() => {
  mkdirSync(tmp, { recursive: true })
  for (const block of blocks) writeFileSync(block.path, `${block.code}\n`)
})

afterAll(() => {
  for (const block of blocks) rmSync(block.path, { force: true })
})

describe('docs/react.md', () => {
  it('has a runnable quick start and type-checks against the sources', () => {
    expect(blocks.filter((b) => b.run).length).toBeGreaterThanOrEqual(1)
    const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile)
    const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
    const files = blocks.map((b) => b.path)
    const program = ts.createProgram(files, {
      ...options,
      noEmit: true,
      baseUrl: root,
      paths: {
        colloquy: ['./src/index.ts'],
        'colloquy/react': ['./src/react/index.ts'],
        'colloquy/react/suspense': ['./src/react/suspense.ts'],
      },
    })
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && files.includes(d.file.fileName))
      .map((d) => {
        const block = blocks.find((b) => b.path === d.file!.fileName)!
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
        return `${block.where} (+${line + 1}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
      })
    expect(errors).toEqual([])
  }, 60_000)

  it('the quick start shows the conversation and sends what is typed', async () => {
    const quickStart = blocks.find((b) => b.run)!
    const clients: Client[] = []
    const create = Client.create.bind(Client)
    vi.spyOn(Client, 'create').mockImplementation(async (options) => {
      const client = await create(options)
      clients.push(client)
      return client
    })
    document.body.innerHTML = '<div id="root"></div>'
    try {
      await act(() => import(/* @vite-ignore */ pathToFileURL(quickStart.path).href))
      await screen.findByText('Welcome to the team!')
      expect(screen.getByRole('button', { name: /Team/ })).toBeTruthy()
      const input = document.querySelector('input')!
      fireEvent.change(input, { target: { value: 'Hello from the docs' } })
      fireEvent.submit(input.closest('form')!)
      await screen.findByText('Hello from the docs')
    } finally {
      for (const r of roots.splice(0)) act(() => r.unmount())
      for (const c of clients.splice(0)) await c.shutdown()
      vi.restoreAllMocks()
    }
  })
})
