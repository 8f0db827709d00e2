import 'fake-indexeddb/auto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, describe, expect, it } from 'vitest'
import { IndexeddbPersistence } from 'y-indexeddb'
import * as Y from 'yjs'
import { createIndexedDbStorage } from '../../src/storage/indexeddb.js'
import { createMemoryStorage } from '../../src/storage/memory.js'
import { createSqliteStorage } from '../../src/storage/sqlite.js'
import { runStorageAdapterTests } from '../../src/testing/storage-contract.js'

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'colloquy-'))
}

runStorageAdapterTests('MemoryStorage', async () => ({ adapter: createMemoryStorage() }))

runStorageAdapterTests('SqliteStorage (file)', async () => {
  const dir = tempDir()
  const file = path.join(dir, 'store.sqlite')
  return {
    adapter: createSqliteStorage({ path: file }),
    reopen: async () => createSqliteStorage({ path: file }),
    teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
  }
})

runStorageAdapterTests('SqliteStorage (:memory:)', async () => ({ adapter: createSqliteStorage({ path: ':memory:' }) }))

runStorageAdapterTests('IndexedDbStorage (fake-indexeddb)', async () => {
  const factory = new IDBFactory()
  return {
    adapter: createIndexedDbStorage({ indexedDB: factory }),
    reopen: async () => createIndexedDbStorage({ indexedDB: factory }),
  }
})

describe('SqliteStorage specifics', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })

  it('refuses a path whose directory does not exist, without creating it', () => {
    const dir = tempDir()
    dirs.push(dir)
    const missing = path.join(dir, 'missing', 'store.sqlite')
    expect(() => createSqliteStorage({ path: missing })).toThrow(
      expect.objectContaining({ name: 'ColloquyError', code: 'INVALID_ARGUMENT' }),
    )
    expect(fs.existsSync(path.join(dir, 'missing'))).toBe(false)
  })

  it('refuses an empty path and a file that is not a SQLite database', () => {
    expect(() => createSqliteStorage({ path: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    const dir = tempDir()
    dirs.push(dir)
    const junk = path.join(dir, 'junk.sqlite')
    fs.writeFileSync(junk, 'this is definitely not a database file, just some text that is long enough')
    expect(() => createSqliteStorage({ path: junk })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })

  it('runs the file in WAL mode so appends are committed through the log', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const file = path.join(dir, 'store.sqlite')
    const storage = createSqliteStorage({ path: file })
    await storage.append('conv/a', Uint8Array.of(1))
    expect(fs.existsSync(`${file}-wal`)).toBe(true)
    await storage.close()
  })

  it('lets two connections to one file see each other’s writes', async () => {
    const dir = tempDir()
    dirs.push(dir)
    const file = path.join(dir, 'store.sqlite')
    const a = createSqliteStorage({ path: file })
    const b = createSqliteStorage({ path: file })
    await a.append('conv/shared', Uint8Array.of(1))
    await b.append('conv/shared', Uint8Array.of(2))
    await a.compact('conv/shared', Uint8Array.of(3), 1)
    expect((await b.load('conv/shared')).map((u) => Array.from(u))).toEqual([[3], [2]])
    await a.close()
    await b.close()
  })
})

describe('IndexedDbStorage specifics', () => {
  it('keeps stores with different prefixes on one factory apart', async () => {
    const factory = new IDBFactory()
    const one = createIndexedDbStorage({ indexedDB: factory, prefix: 'one:' })
    const two = createIndexedDbStorage({ indexedDB: factory, prefix: 'two:' })
    await one.append('conv/a', Uint8Array.of(1))
    await two.append('conv/b', Uint8Array.of(2))
    expect(await one.list()).toEqual(['conv/a'])
    expect(await two.list()).toEqual(['conv/b'])
    expect(await two.load('conv/a')).toEqual([])
    const names = (await factory.databases()).map((info) => info.name).sort()
    expect(names).toEqual(['one:conv/a', 'two:conv/b'])
    await one.close()
    await two.close()
  })

  it('removes a document while another connection has it open', async () => {
    const factory = new IDBFactory()
    const one = createIndexedDbStorage({ indexedDB: factory })
    const two = createIndexedDbStorage({ indexedDB: factory })
    await one.append('conv/a', Uint8Array.of(1))
    expect(await two.load('conv/a')).toHaveLength(1)
    await one.remove('conv/a')
    expect(await two.load('conv/a')).toEqual([])
    await two.append('conv/a', Uint8Array.of(2))
    expect((await one.load('conv/a')).map((u) => Array.from(u))).toEqual([[2]])
    await one.close()
    await two.close()
  })

  it('refuses to start without an IndexedDB implementation', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')
    Reflect.deleteProperty(globalThis, 'indexedDB')
    try {
      expect(() => createIndexedDbStorage()).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    } finally {
      if (saved) Object.defineProperty(globalThis, 'indexedDB', saved)
    }
  })
})

describe('IndexedDbStorage and y-indexeddb share one layout', () => {
  // y-indexeddb (through lib0) only uses the global factory, which fake-indexeddb/auto installs.
  let counter = 0
  const uniqueDoc = () => `conv/compat-${Date.now()}-${counter++}`

  function edit(doc: Y.Doc, label: string): void {
    doc.getText('text').insert(0, label)
    doc.getMap('map').set(label, label.length)
  }

  it('y-indexeddb reads what the adapter wrote, including after compaction', async () => {
    const docName = uniqueDoc()
    const storage = createIndexedDbStorage({ indexedDB: globalThis.indexedDB })
    const source = new Y.Doc()
    const writes: Promise<void>[] = []
    source.on('update', (update: Uint8Array) => {
      writes.push(storage.append(docName, update))
    })
    edit(source, 'one')
    edit(source, 'two')
    await Promise.all(writes)
    const loaded = await storage.load(docName)
    edit(source, 'three')
    await Promise.all(writes)
    await storage.compact(docName, Y.encodeStateAsUpdate(mergeInto(loaded)), loaded.length)
    await storage.close()

    const replica = new Y.Doc()
    const persistence = new IndexeddbPersistence(`colloquy:${docName}`, replica)
    await persistence.whenSynced
    expect(contentOf(replica)).toEqual(contentOf(source))
    await persistence.destroy()
  })

  it('the adapter reads what y-indexeddb wrote', async () => {
    const docName = uniqueDoc()
    const source = new Y.Doc()
    const persistence = new IndexeddbPersistence(`colloquy:${docName}`, source)
    await persistence.whenSynced
    edit(source, 'alpha')
    edit(source, 'beta')

    const storage = createIndexedDbStorage({ indexedDB: globalThis.indexedDB })
    const loaded = await storage.load(docName)
    const replica = new Y.Doc()
    for (const update of loaded) Y.applyUpdate(replica, update)
    expect(contentOf(replica)).toEqual(contentOf(source))
    expect(await storage.list('conv/compat-')).toContain(docName)
    await persistence.destroy()
    await storage.close()
  })
})

function contentOf(doc: Y.Doc): unknown {
  return { text: doc.getText('text').toString(), map: doc.getMap('map').toJSON() }
}

function mergeInto(updates: Uint8Array[]): Y.Doc {
  const doc = new Y.Doc()
  for (const update of updates) Y.applyUpdate(doc, update)
  return doc
}
