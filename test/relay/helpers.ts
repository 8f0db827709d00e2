/**
 * Helpers for the relay integration suites: real relays (in-process or a spawned CLI process),
 * real clients, a TCP proxy that can cut a client off, raw WebSockets, and waits with deadlines.
 * Everything opened through a `Harness` is closed by `harness.cleanup()` (call it in afterEach).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { WebSocket as WsSocket } from 'ws'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { createRelay, type Relay, type RelayOptions, signToken } from '../../relay/index.ts'
import { Client, type ClientOptions, type Conversation, type Message } from '../../src/index.ts'
import { encodeToken, MessageType, readFrame, startFrame } from '../../src/sync/protocol.ts'
import { Cleanups } from '../support/cleanup.ts'
import { TcpProxy } from '../support/tcp-proxy.ts'
import { type Listenable, waitFor, waitUntil } from '../support/wait.ts'

export const SECRET = 'relay-integration-secret-0123456789abcdef'
export const OTHER_SECRET = 'a-different-secret-0123456789abcdef-xyz'

/** A valid token for `identity` (signed with SECRET unless told otherwise). */
export const tokenFor = (identity: string, options: { secret?: string; expiresInSeconds?: number } = {}) =>
  signToken({ identity, secret: options.secret ?? SECRET, expiresInSeconds: options.expiresInSeconds })

/** Fast reconnects: the tests take relays down and bring them back. */
export const FAST_BACKOFF = { baseMs: 20, maxMs: 200 }

export { type Listenable, TcpProxy, waitFor, waitUntil }

/** Rejects after `ms` unless `p` settles first. */
export const deadline = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    p.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })

/** A port that was free a moment ago (bind 0, read, close). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** Every message of a conversation, oldest first (sequenced, then pending), as plain data. */
/**
 * `alice` creates a conversation with `options` and adds `bob`; resolves with her conversation and
 * bob's, once his client has it.
 */
export const sharedConversation = async (
  alice: Client,
  bob: Client,
  options: Parameters<Client['createConversation']>[0] = { join: true },
): Promise<{ conv: Conversation; bconv: Conversation }> => {
  const added = waitFor<Conversation>(bob, 'conversationAdded')
  const conv = await alice.createConversation(options)
  await conv.add(bob.identity)
  return { conv, bconv: await added }
}

export const messagesOf = async (
  conversation: Conversation,
): Promise<Array<{ sid: string; index: number | null; body: string | null; author: string }>> => {
  const out: Message[] = []
  let page = await conversation.getMessages(100)
  out.unshift(...page.items)
  while (page.hasPrevPage) {
    page = await page.prevPage()
    out.unshift(...page.items)
  }
  return out.map((m) => ({ sid: m.sid, index: m.index, body: m.body, author: m.author }))
}

const CLI = fileURLToPath(new URL('../../relay/cli.ts', import.meta.url))

/** A relay running as a separate process (the CLI), on `port` (0 = any) with the SQLite file `db`. */
export class RelayProcess {
  readonly child: ChildProcess
  readonly ready: Promise<{ url: string; port: number }>
  #stderr = ''
  #exited: Promise<void>

  /** `script`: another entry point taking the CLI's `--port`, `--db` and `--secret` (default: the CLI). */
  constructor(options: { port: number; db: string; secret?: string; env?: NodeJS.ProcessEnv; script?: string }) {
    this.child = spawn(
      process.execPath,
      [options.script ?? CLI, '--port', String(options.port), '--db', options.db, '--secret', options.secret ?? SECRET],
      { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env },
    )
    this.#exited = new Promise((resolve) => this.child.once('exit', () => resolve()))
    this.child.stderr!.on('data', (d: Buffer) => {
      this.#stderr += d.toString()
    })
    this.ready = new Promise((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`relay process did not start: ${this.#stderr}`)), 10_000)
      this.child.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
        const m = /listening on (ws:\/\/\S+) \(port (\d+)\)/.exec(out)
        if (m) {
          clearTimeout(timer)
          resolve({ url: m[1]!, port: Number(m[2]) })
        }
      })
      this.child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`relay process exited (${code}) before listening: ${this.#stderr}`))
      })
    })
    this.ready.catch(() => {})
  }

  get stderr(): string {
    return this.#stderr
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
    await this.#exited
  }
}

/** A raw client on the multiplexed endpoint, with every frame it received. */
export class RawSocket {
  readonly ws: WsSocket
  readonly frames: Uint8Array[] = []
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>
  #listeners = new Set<(frame: Uint8Array) => void>()

  constructor(url: string, options: { headers?: Record<string, string> } = {}) {
    this.ws = new WsSocket(url, { headers: options.headers })
    this.ws.binaryType = 'nodebuffer'
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
    this.opened.catch(() => {})
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
    this.ws.on('error', () => {})
    this.ws.on('message', (data: Buffer) => {
      const frame = new Uint8Array(data)
      this.frames.push(frame)
      for (const l of [...this.#listeners]) l(frame)
    })
  }

  send(frame: Uint8Array | string): void {
    this.ws.send(frame)
  }

  /** Resolves with the first frame (past or future) matching `predicate`. */
  next(predicate: (frame: Uint8Array) => boolean, ms = 5_000): Promise<Uint8Array> {
    const seen = this.frames.find(predicate)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(l)
        reject(new Error(`timed out after ${ms} ms waiting for a frame`))
      }, ms)
      const l = (frame: Uint8Array) => {
        if (!predicate(frame)) return
        clearTimeout(timer)
        this.#listeners.delete(l)
        resolve(frame)
      }
      this.#listeners.add(l)
    })
  }

  close(): void {
    if (this.ws.readyState === WsSocket.CONNECTING || this.ws.readyState === WsSocket.OPEN) this.ws.terminate()
  }
}

/** A multiplexed sync step 1 for `docName` with the state vector of `doc` (an empty doc by default). */
export const syncStep1Frame = (docName: string, doc: Y.Doc = new Y.Doc()): Uint8Array => {
  const encoder = startFrame(docName, MessageType.sync)
  syncProtocol.writeSyncStep1(encoder, doc)
  return encoding.toUint8Array(encoder)
}

/** Header of a multiplexed frame, or null if it does not parse. */
export const frameInfo = (frame: Uint8Array): { docName: string; type: number } | null => {
  try {
    const { docName, type } = readFrame(frame)
    return { docName, type }
  } catch {
    return null
  }
}

/** Applies every sync frame for `docName` among `frames` to `doc` (step 2 and updates). */
export const applySyncFrames = (frames: Uint8Array[], docName: string, doc: Y.Doc): void => {
  for (const frame of frames) {
    const { docName: name, type, decoder } = readFrame(frame)
    if (name !== docName || type !== MessageType.sync) continue
    syncProtocol.readSyncMessage(decoder, encoding.createEncoder(), doc, 'raw')
  }
}

/** The reason of a permission-denied frame (`varString(doc) varUint(2) varUint(0) varString(reason)`). */
export const deniedReason = (frame: Uint8Array): string | null => {
  const { type, decoder } = readFrame(frame)
  if (type !== MessageType.auth) return null
  decoding.readVarUint(decoder)
  return decoding.readVarString(decoder)
}

/** Opens and closes everything a test uses. */
export class Harness extends Cleanups {
  async relay(options: Partial<RelayOptions> = {}, port = 0): Promise<Relay> {
    const relay = await createRelay({ auth: { secret: SECRET }, ...options })
    this.defer(() => relay.close())
    await relay.listen(port)
    return relay
  }

  async client(identity: string, options: Partial<ClientOptions> & { relayUrl: string }): Promise<Client> {
    const client = await Client.create({ token: () => tokenFor(identity), backoff: FAST_BACKOFF, ...options })
    this.defer(() => client.shutdown())
    return client
  }

  async proxy(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort)
    this.defer(() => proxy.close())
    await proxy.listen()
    return proxy
  }

  relayProcess(options: { port: number; db: string; env?: NodeJS.ProcessEnv; script?: string }): RelayProcess {
    const p = new RelayProcess(options)
    this.defer(() => p.kill('SIGKILL'))
    return p
  }

  raw(url: string, options: { headers?: Record<string, string> } = {}): RawSocket {
    const s = new RawSocket(url, options)
    this.defer(() => s.close())
    return s
  }
}

/** A raw multiplexed socket for `identity`, authenticated: resolves once the relay answered a step 1. */
export const authenticatedRaw = async (harness: Harness, relay: Relay, identity: string): Promise<RawSocket> => {
  const raw = harness.raw(`${relay.url}/?token=${await tokenFor(identity)}`)
  await raw.opened
  raw.send(syncStep1Frame(`user/${identity}`))
  await raw.next((f) => frameInfo(f)?.docName === `user/${identity}`)
  return raw
}

/**
 * A raw multiplexed socket for `identity` that authenticates as colloquy's client does, with a token
 * frame first (so the relay answers with `hello` and refuses documents with `refused` frames):
 * resolves once the relay answered a step 1.
 */
export const frameAuthedRaw = async (harness: Harness, relay: Relay, identity: string): Promise<RawSocket> => {
  const raw = harness.raw(`${relay.url}/`)
  await raw.opened
  raw.send(encodeToken(await tokenFor(identity)))
  raw.send(syncStep1Frame(`user/${identity}`))
  await raw.next((f) => frameInfo(f)?.docName === `user/${identity}`)
  return raw
}

/** Proves the relay still serves well-behaved clients: two fresh users exchange a message. */
export const assertRelayWorks = async (harness: Harness, relay: Relay, tag: string): Promise<void> => {
  const a = await harness.client(`ok-a-${tag}`, { relayUrl: relay.url })
  const b = await harness.client(`ok-b-${tag}`, { relayUrl: relay.url })
  const added = waitFor<Conversation>(b, 'conversationAdded')
  const conv = await a.createConversation({ join: true })
  await conv.add(`ok-b-${tag}`)
  const bconv = await added
  const got = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === `still works ${tag}`)
  const sent = await conv.sendMessage(`still works ${tag}`)
  await got
  await waitUntil(() => sent.index !== null, 'the check message is sequenced')
  await a.shutdown()
  await b.shutdown()
}
