/**
 * Options objects and obviously wrong arguments at the public entry points: an unknown option key
 * is refused with INVALID_ARGUMENT (never ignored), the Twilio-style option names colloquy accepts
 * stay accepted, and no wrong argument surfaces as a raw TypeError from inside colloquy.
 */
import 'fake-indexeddb/auto'
import { afterEach, describe, expect, it } from 'vitest'
import { createRelay, signToken } from '../../relay/index.ts'
import { Client, ColloquyError, type Conversation, createMemoryStorage } from '../../src/index.ts'
import { createIndexedDbStorage } from '../../src/storage/indexeddb.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { createTestNetwork } from '../../src/testing/index.ts'
import { expectCode } from './helpers.ts'

const SECRET = 'options-suite-secret-0123456789abcdef-0123'
const noop = () => {}

const opened: Array<{ shutdown?: () => Promise<void>; close?: () => Promise<void> }> = []
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await (o.shutdown ?? o.close)!.call(o)
})

/** A local-only alice with a joined conversation (admin), bob in it, and one message. */
const world = async () => {
  const client = await Client.create({ identity: 'alice', storage: createMemoryStorage() })
  opened.push(client)
  const conversation = await client.createConversation({ friendlyName: 'team', join: true })
  await conversation.add('bob')
  const message = await conversation.sendMessage('hello')
  const participant = await conversation.getParticipantByIdentity('bob')
  return { client, conversation, message, participant }
}

type World = Awaited<ReturnType<typeof world>>

/** Every public entry point that takes an options object, given one unknown key. */
const UNKNOWN_OPTIONS: Array<[string, (w: World) => unknown, string]> = [
  ['Client.create', () => Client.create({ identity: 'carol', filter: 'x' } as never), "unknown option 'filter'"],
  ['Client.create backoff', () => Client.create({ identity: 'carol', backoff: { base: 10 } } as never), "'base'"],
  ['Client.create runtime', () => Client.create({ identity: 'carol', runtime: { clock: 1 } } as never), "'clock'"],
  [
    'Client.create token without relayUrl',
    () => Client.create({ identity: 'carol', token: 'eyJ.x.y' }),
    'token and WebSocket go with relayUrl',
  ],
  ['createConversation', (w) => w.client.createConversation({ name: 'x' } as never), "unknown option 'name'"],
  ['client.getMessages', (w) => w.client.getMessages({ from: 0 } as never), "unknown option 'from'"],
  ['client.whenSynced', (w) => w.client.whenSynced({ timeout: 5 } as never), "unknown option 'timeout'"],
  [
    'subscribeConversations',
    (w) => w.client.subscribeConversations(noop, { filter: { access: ['ReadWrite'] } } as never),
    "unknown option 'filter'",
  ],
  ['conversation.add', (w) => w.conversation.add('carol', {}, { admin: true } as never), "unknown option 'admin'"],
  [
    'addNonChatParticipant',
    (w) => w.conversation.addNonChatParticipant('+1555', '+1666', {}, { channel: 'sms' } as never),
    "unknown option 'channel'",
  ],
  ['sendMessage', (w) => w.conversation.sendMessage({ text: 'hi' } as never), "unknown option 'text'"],
  ['sendMessage', (w) => w.conversation.sendMessage({ body: 'hi', custom: {} } as never), "unknown option 'custom'"],
  [
    'content block',
    (w) => w.conversation.sendMessage({ content: [{ type: 'text', text: 'hi', html: '<b>hi</b>' }] } as never),
    "no field 'html'",
  ],
  ['subscribeMessages', (w) => w.conversation.subscribeMessages(noop, { filter: 'x' } as never), "'filter'"],
  ['subscribeParticipants', (w) => w.conversation.subscribeParticipants(noop, { order: 1 } as never), "'order'"],
  [
    'createRelay',
    () => createRelay({ auth: { secret: SECRET }, port: 8080 } as never),
    "createRelay: unknown option 'port'",
  ],
  ['createRelay auth', () => createRelay({ auth: { secret: SECRET, algo: 'HS256' } } as never), "'algo'"],
  [
    'createRelay limits',
    () => createRelay({ auth: { secret: SECRET }, limits: { maxFrames: 10 } } as never),
    "'maxFrames'",
  ],
  ['SQLite storage', () => createSqliteStorage({ path: ':memory:', readonly: true } as never), "'readonly'"],
  ['IndexedDB storage', () => createIndexedDbStorage({ prefix: 'x:', name: 'db' } as never), "'name'"],
  ['signToken', () => signToken({ identity: 'alice', secret: SECRET, ttl: 60 } as never), "'ttl'"],
]

describe('unknown option keys are refused with INVALID_ARGUMENT', () => {
  it.each(UNKNOWN_OPTIONS)('%s', async (_name, call, names) => {
    const w = await world()
    const error = await expectCode(async () => call(w), 'INVALID_ARGUMENT')
    expect(error.message).toContain(names)
  })

  it('accepts every documented option, the Twilio-style names included', async () => {
    const net = createTestNetwork()
    opened.push(net)
    const client = await Client.create({
      identity: 'alice',
      storage: createMemoryStorage(),
      transport: net.link('alice'),
      typingTimeout: 1000,
      now: Date.now,
      backoff: { baseMs: 10, maxMs: 100, random: Math.random },
      runtime: {},
    })
    opened.push(client)
    // Twilio's sample: createConversation({ attributes, friendlyName, uniqueName }).
    const c: Conversation = await client.createConversation({
      attributes: {},
      friendlyName: 'new conversation',
      uniqueName: 'new conversation',
      subject: null,
      photoUrl: null,
      welcomeMessages: [],
      state: 'active',
      join: true,
    })
    await c.add('bob', {}, { role: 'member', access: 'ReadWrite' })
    await c.addNonChatParticipant('+1555', '+1666', {}, { type: 'sms' })
    const m = await c.sendMessage({ body: 'hi', attributes: {}, referencedMessage: undefined })
    await c.sendMessage({ content: [{ type: 'text', text: 'ok' }], referencedMessage: m.sid })
    await c.sendMessage('twilio style', { a: 1 })
    await client.getMessages({ since: 0, until: new Date(), limit: 10 })
    await client.whenSynced({ signal: new AbortController().signal })
    for (const sub of [
      client.subscribeConversations(noop, { limit: 5 }),
      c.subscribeMessages(noop, { limit: 5 }),
      c.subscribeParticipants(noop, { limit: 5 }),
    ])
      sub.unsubscribe()
    const relay = await createRelay({
      auth: { secret: SECRET, clockToleranceSeconds: 5 },
      limits: { maxFrameBytes: 1 << 20 },
      idleUnloadMs: 1000,
      sleepAfterMs: 1000,
      heartbeatMs: 1000,
    })
    opened.push(relay)
    opened.push(createSqliteStorage({ path: ':memory:' }))
    opened.push(createIndexedDbStorage({ prefix: 'options-test:' }))
    expect(await signToken({ identity: 'alice', secret: SECRET, expiresInSeconds: 60 })).toMatch(/^ey/)
  })
})

describe('how Twilio apps start, and relays without options', () => {
  it('`new Client(token)` says to use Client.create', async () => {
    const token = await signToken({ identity: 'alice', secret: SECRET })
    const Ctor = Client as unknown as new (token: string) => Client
    const error = await expectCode(() => new Ctor(token), 'INVALID_ARGUMENT')
    expect(error.message).toContain('Client.create')
  })

  it.each([
    ['no options', undefined],
    ['null', null],
    ['{}', {}],
    ['auth as a string', { auth: SECRET }],
    ['auth without a key', { auth: {} }],
    ['a numeric secret', { auth: { secret: 42 } }],
    ['a short secret', { auth: { secret: 'short' } }],
    ['a zero limit', { auth: { secret: SECRET }, limits: { maxFrameBytes: 0 } }],
    ['a storage that is not one', { auth: { secret: SECRET }, storage: {} }],
    ['a logger that is not one', { auth: { secret: SECRET }, logger: console.log }],
  ])('createRelay with %s rejects with INVALID_ARGUMENT', async (_name, options) => {
    const error = await expectCode(createRelay(options as never), 'INVALID_ARGUMENT')
    expect(error.message.length).toBeGreaterThan(10)
  })
})

describe('removeParticipant', () => {
  it('refuses a Participant of another conversation (NOT_FOUND) and removes nobody', async () => {
    const w = await world()
    const other = await w.client.createConversation({ join: true })
    await other.add('bob')
    const bobElsewhere = await other.getParticipantByIdentity('bob')
    await expectCode(w.conversation.removeParticipant(bobElsewhere), 'NOT_FOUND')
    expect(w.participant.isActive).toBe(true)
    await w.conversation.removeParticipant(w.participant)
    expect(w.participant.isActive).toBe(false)
  })
})

describe('Client.create checks the values of its options', () => {
  const relayUrl = 'ws://127.0.0.1:1'
  // Read, never verified, by the client: a JWT for identity 'a' is enough here.
  const token = `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: 'a' })).toString('base64url')}.sig`
  it.each([
    ['a WebSocket that is not a constructor', { relayUrl, token, WebSocket: 42 }, 'WebSocket must be a function'],
    ['a token that is not a JWT', { relayUrl, token: 42 }, 'token must be a string'],
    ['a backoff base that is not a duration', { identity: 'a', backoff: { baseMs: 'x' } }, 'backoff.baseMs'],
    ['a backoff random that is not a function', { identity: 'a', backoff: { random: 0.5 } }, 'backoff.random'],
    ['a clock that is not a function', { identity: 'a', now: 5 }, 'now must be a function'],
    ['a storage without its methods', { identity: 'a', storage: {} }, 'storage must be an object with'],
    ['a transport without connect', { identity: 'a', transport: {} }, 'transport must be an object with'],
    ['both relayUrl and transport', { relayUrl, token, transport: { connect: noop } }, 'not both'],
  ])('refuses %s with INVALID_ARGUMENT', async (_name, options, says) => {
    expect((await expectCode(Client.create(options as never), 'INVALID_ARGUMENT')).message).toContain(says)
  })
})

/** Values no entry point takes where an object, string, callback or number is expected. */
const WRONG = [undefined, null, 42, 'x', {}, [], () => {}, Number.NaN, { length: -1 }]
/** Calls that end or leave the fixture: probed on their own fixture at the end. */
const LAST = new Set(['shutdown', 'delete', 'leave', 'remove'])

const methodsOf = (o: object): string[] => {
  const names = new Set<string>()
  for (let p = Object.getPrototypeOf(o); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      const d = Object.getOwnPropertyDescriptor(p, name)!
      if (name !== 'constructor' && !name.startsWith('_') && typeof d.value === 'function') names.add(name)
    }
  }
  return [...names].sort()
}

describe('obviously wrong arguments never surface as a raw TypeError', () => {
  it('every public method of Client, Conversation, Message, Participant and User', async () => {
    const w = await world()
    const objects = {
      client: w.client,
      conversation: w.conversation,
      message: w.message,
      participant: w.participant,
      user: w.client.user,
    } as unknown as Record<string, Record<string, (...args: unknown[]) => unknown>>
    const raw: string[] = []
    let probed = 0
    for (const [name, o] of Object.entries(objects)) {
      for (const method of methodsOf(o)) {
        probed++
        if (LAST.has(method) || method === 'emit' || method === 'clear') continue
        for (const a of WRONG) {
          for (const args of [[a], ['bob', a], ['bob', {}, a], [a, a, a]]) {
            try {
              const result = o[method]!(...args)
              if (result instanceof Promise) await result
              else (result as { unsubscribe?: () => void } | null)?.unsubscribe?.()
            } catch (error) {
              if (!(error instanceof ColloquyError))
                raw.push(`${name}.${method}(${args.map((x) => String(x)).join(', ')}): ${String(error)}`)
            }
          }
        }
      }
    }
    for (const method of LAST) {
      for (const a of WRONG) {
        const fresh = await world()
        for (const o of [fresh.client, fresh.conversation, fresh.message, fresh.participant] as unknown as Array<
          Record<string, ((...args: unknown[]) => unknown) | undefined>
        >) {
          try {
            await o[method]?.(a, a)
          } catch (error) {
            if (!(error instanceof ColloquyError)) raw.push(`${method}(${String(a)}): ${String(error)}`)
          }
        }
      }
    }
    // Live windows, storage adapters and a relay, the same way.
    const relay = await createRelay({ auth: { secret: SECRET } })
    opened.push(relay)
    const sqlite = createSqliteStorage({ path: ':memory:' })
    opened.push(sqlite)
    const more = {
      conversations: w.client.subscribeConversations(noop),
      messages: w.conversation.subscribeMessages(noop),
      participants: w.conversation.subscribeParticipants(noop),
      typing: w.conversation.subscribeTyping(noop),
      memory: createMemoryStorage(),
      sqlite,
      relay,
    } as unknown as Record<string, Record<string, (...args: unknown[]) => unknown>>
    for (const [name, o] of Object.entries(more)) {
      for (const method of [...methodsOf(o), ...Object.keys(o).filter((k) => typeof o[k] === 'function')]) {
        if (['close', 'unsubscribe'].includes(method)) continue
        probed++
        for (const a of WRONG) {
          for (const args of [[a], ['doc', a], [a, a, a]]) {
            try {
              await o[method]!(...args)
            } catch (error) {
              if (!(error instanceof ColloquyError))
                raw.push(`${name}.${method}(${args.map((x) => String(x)).join(', ')}): ${String(error)}`)
            }
          }
        }
      }
    }
    const entryPoints: Record<string, (a: unknown) => unknown> = {
      'Client.create': (a) => Client.create(a as never),
      createRelay: (a) => createRelay(a as never),
      createSqliteStorage: (a) => createSqliteStorage(a as never),
      createIndexedDbStorage: (a) => createIndexedDbStorage(a as never),
      signToken: (a) => signToken(a as never),
      createTestNetwork: (a) => createTestNetwork(a as never),
    }
    for (const [name, call] of Object.entries(entryPoints)) {
      for (const a of WRONG) {
        if (a === undefined && (name === 'createIndexedDbStorage' || name === 'createTestNetwork')) continue
        try {
          const made = (await call(a)) as { close?: () => Promise<void> }
          await made?.close?.()
        } catch (error) {
          if (!(error instanceof ColloquyError)) raw.push(`${name}(${String(a)}): ${String(error)}`)
        }
      }
    }
    expect(probed).toBeGreaterThan(60)
    expect(raw).toEqual([])
  })
})
