import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { createSqliteStorage } from '../../src/storage/sqlite.js'

const DOC = 'conv/crash'
const ACKS_BEFORE_KILL = 20

// The child runs the real adapter source under plain Node (type stripping is on by default in
// Node 24). Inside src, imports name `.js` files that only exist as `.ts` until a build, so a
// resolve hook retries relative `.js` specifiers as `.ts`.
const CHILD_SCRIPT = `
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (/^\\.\\.?\\//.test(specifier) && specifier.endsWith('.js')) {
        return nextResolve(specifier.slice(0, -3) + '.ts', context)
      }
      throw error
    }
  },
})

const [adapterUrl, yjsUrl, dbPath, docName] = process.argv.slice(2)
const { createSqliteStorage } = await import(adapterUrl)
const Y = await import(yjsUrl)

const storage = createSqliteStorage({ path: dbPath })
const doc = new Y.Doc()
doc.clientID = 1
const updates = []
doc.on('update', (update) => updates.push(update))
for (let i = 0; ; i++) {
  doc.getText('log').insert(doc.getText('log').length, 'item ' + i + ';')
  await storage.append(docName, updates.shift())
  process.stdout.write('acked ' + i + '\\n')
}
`

/** The updates the child produces, rebuilt deterministically (same client id, same edits). */
function expectedUpdates(count: number): Uint8Array[] {
  const doc = new Y.Doc()
  doc.clientID = 1
  const updates: Uint8Array[] = []
  doc.on('update', (update: Uint8Array) => updates.push(update))
  for (let i = 0; i < count; i++) doc.getText('log').insert(doc.getText('log').length, `item ${i};`)
  return updates
}

describe('SqliteStorage durability across a hard crash', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('keeps every acknowledged append after the writer is killed with SIGKILL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'colloquy-'))
    dirs.push(dir)
    const dbPath = path.join(dir, 'crash.sqlite')
    const scriptPath = path.join(dir, 'writer.mjs')
    fs.writeFileSync(scriptPath, CHILD_SCRIPT)

    const here = path.dirname(fileURLToPath(import.meta.url))
    const adapterUrl = pathToFileURL(path.resolve(here, '../../src/storage/sqlite.ts')).href
    const yjsUrl = pathToFileURL(createRequire(import.meta.url).resolve('yjs')).href

    const child = spawn(process.execPath, [scriptPath, adapterUrl, yjsUrl, dbPath, DOC], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }))
    })

    let stderr = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk
    })

    const acked: number[] = []
    await new Promise<void>((resolve, reject) => {
      let buffered = ''
      child.stdout.setEncoding('utf8')
      child.stdout.on('data', (chunk: string) => {
        buffered += chunk
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        for (const line of lines) {
          const match = /^acked (\d+)$/.exec(line)
          if (!match) continue
          acked.push(Number(match[1]))
          if (acked.length === ACKS_BEFORE_KILL) {
            child.kill('SIGKILL')
            resolve()
          }
        }
      })
      child.on('error', reject)
      void exited.then(({ code, signal }) => {
        if (acked.length < ACKS_BEFORE_KILL) {
          reject(
            new Error(`writer exited early (code ${code}, signal ${signal}) after ${acked.length} acks:\n${stderr}`),
          )
        }
      })
    })

    const { signal } = await exited
    expect(signal).toBe('SIGKILL')
    expect(acked).toEqual(Array.from({ length: ACKS_BEFORE_KILL }, (_, i) => i))

    // Reopening recovers the WAL left behind by the killed writer.
    const storage = createSqliteStorage({ path: dbPath })
    const loaded = await storage.load(DOC)
    await storage.close()

    // Every acknowledged update is there, byte for byte, in order. The writer may have committed a
    // few more between its last ack we read and the kill; those must be intact too.
    expect(loaded.length).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL)
    const expected = expectedUpdates(loaded.length)
    expect(loaded.map((u) => Buffer.from(u).toString('hex'))).toEqual(
      expected.map((u) => Buffer.from(u).toString('hex')),
    )

    // The log applies cleanly as Yjs updates.
    const replica = new Y.Doc()
    for (const update of loaded) Y.applyUpdate(replica, update)
    const text = replica.getText('log').toString()
    expect(text).toBe(Array.from({ length: loaded.length }, (_, i) => `item ${i};`).join(''))

    const db = new Database(dbPath)
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok')
    db.close()
  })
})
