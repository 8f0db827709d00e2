import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { type RawData, WebSocket, WebSocketServer } from 'ws'
import { ColloquyError, invalidArgument } from '../src/errors.ts'
import { checkDuration } from '../src/schema/validate.ts'
import type { StorageAdapter } from '../src/storage/adapter.ts'
import { createSqliteStorage } from '../src/storage/sqlite.ts'
import { ControlType } from '../src/sync/protocol.ts'
import { CloseCode } from '../src/sync/transport.ts'
import { type AuthOptions, createVerifier, type TokenVerifier, type VerifiedToken } from './auth.ts'
import { type CoreConnection, RelayCore } from './core.ts'
import { DEFAULT_LIMITS, type RelayLimits, TokenBucket } from './limits.ts'
import { type Logger, silentLogger } from './log.ts'
import { RelayMetrics } from './metrics.ts'
import { StampState } from './stamp-state.ts'

/** Frames one connection's socket holds back at most before writing them (see `send` below). */
const CORKED_FRAMES = 32

/** Options of `createRelay`. */
export interface RelayOptions {
  /** How tokens are verified (shared secret or public key). Required. */
  auth: AuthOptions
  /** The store. Default: SQLite at `dataPath`. */
  storage?: StorageAdapter
  /** SQLite file used when no `storage` is given (default `:memory:` — nothing survives a restart). */
  dataPath?: string
  /** Network limits; see `RelayLimits` for the defaults. */
  limits?: Partial<RelayLimits>
  /** Structured logs. Default: silent. */
  logger?: Logger
  /** How long an unused document stays in memory after it is stored (default 30 s). */
  idleUnloadMs?: number
  /**
   * How long a document clients are subscribed to stays in memory without changes or typing
   * (default 30 s; 0 keeps it loaded while anyone is subscribed). Asleep, only its subscribers are
   * kept, and the next frame that needs it loads it again from the store. A conversation loaded
   * only to answer a first sync goes back to sleep at once (unless this is 0).
   */
  sleepAfterMs?: number
  /** Interval of WebSocket pings; a connection that misses one is dropped (default 30 s). */
  heartbeatMs?: number
  /** Server clock (sequencing stamps). */
  now?: () => number
  /**
   * The relay's stamp-state file: its stamp key and each conversation's highest index, kept
   * outside the store so that a store restored from a backup loses nothing devices hold and never
   * gives an index twice (docs/relay.md, "Restoring a backup"). Default: `<dataPath>.stamps` for
   * a SQLite file, none otherwise (`null`: none).
   */
  stampStatePath?: string | null
  /** A stamp key of your own (at least 32 bytes) instead of the one in the stamp-state file. */
  stampKey?: Uint8Array
}

/** A running (or ready to run) relay. */
export interface Relay {
  /** Starts listening; port 0 picks a free one. Resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>
  /** The bound port (0 before `listen`). */
  readonly port: number
  /** `ws://host:port` once listening. */
  readonly url: string
  readonly core: RelayCore
  readonly metrics: RelayMetrics
  /** Closes every socket and timer and stores everything. */
  close(): Promise<void>
}

interface Session {
  ws: WebSocket
  identity: string | null
  conn: CoreConnection | null
  /** Single-document (stock y-websocket) mode: the document in the URL path. */
  docName: string | null
  pending: Uint8Array[]
  pendingBytes: number
  bucket: TokenBucket
  expiryTimer: ReturnType<typeof setTimeout> | null
  alive: boolean
}

const toBytes = (data: RawData): Uint8Array => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

const tokenFrom = (req: IncomingMessage, url: URL): string | null => {
  const header = req.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length)
  return url.searchParams.get('token')
}

/**
 * Creates the relay: an HTTP server with `/healthz` and `/metrics`, and a WebSocket endpoint.
 * Connect to `/` for the multiplexed protocol (every document on one socket), or to
 * `/<document name>` for stock y-websocket clients (one document per socket).
 *
 * @example
 * const relay = await createRelay({ auth: { secret: process.env.COLLOQUY_SECRET! }, dataPath: './colloquy.sqlite' })
 * await relay.listen(8787)
 */
export const createRelay = async (options: RelayOptions): Promise<Relay> => {
  const verify: TokenVerifier = await createVerifier(options.auth)
  const limits: RelayLimits = { ...DEFAULT_LIMITS, ...options.limits }
  const logger = options.logger ?? silentLogger
  const metrics = new RelayMetrics()
  const heartbeatMs = checkDuration(options.heartbeatMs, 30_000, 'heartbeatMs')
  if (heartbeatMs === 0) throw invalidArgument('heartbeatMs must be more than 0')
  const ownsStorage = options.storage === undefined
  const storage = options.storage ?? createSqliteStorage({ path: options.dataPath ?? ':memory:' })
  let core: RelayCore
  let stampState: StampState | null = null
  try {
    const fileStore = ownsStorage && options.dataPath !== undefined && options.dataPath !== ':memory:'
    stampState = StampState.open({
      path:
        options.stampStatePath === undefined
          ? fileStore
            ? `${options.dataPath}.stamps`
            : null
          : options.stampStatePath,
      key: options.stampKey,
      logger,
    })
    core = new RelayCore({
      stampState,
      storage,
      now: options.now,
      idleUnloadMs: options.idleUnloadMs,
      sleepAfterMs: options.sleepAfterMs,
      maxDocumentsPerConnection: limits.maxDocumentsPerConnection,
      metrics,
      onError: (error) =>
        logger.error('relay_error', { message: error instanceof Error ? error.message : String(error) }),
    })
  } catch (error) {
    // A bad option: the store this call opened is closed again.
    stampState?.close()
    if (ownsStorage) await storage.close()
    throw error
  }
  const sessions = new Set<Session>()
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes })

  const http: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, connections: metrics.connections, documents: core.loadedDocuments }))
      return
    }
    if (req.method === 'GET' && path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      res.end(metrics.render(core.loadedDocuments, core.sleepingDocuments))
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  })

  const closeSession = (s: Session, code: number, reason: string, metric?: string): void => {
    if (metric) metrics.reject(metric)
    if (s.ws.readyState === WebSocket.OPEN || s.ws.readyState === WebSocket.CONNECTING) s.ws.close(code, reason)
  }

  const armExpiry = (s: Session, token: VerifiedToken): void => {
    if (s.expiryTimer) clearTimeout(s.expiryTimer)
    const ms = Math.max(0, token.expiresAt - Date.now())
    s.expiryTimer = setTimeout(
      () => closeSession(s, CloseCode.tokenExpired, 'token expired', 'token_expired'),
      Math.min(ms, 2 ** 31 - 1),
    )
  }

  const wrapSingle = (docName: string, data: Uint8Array): Uint8Array => {
    const encoder = encoding.createEncoder()
    encoding.writeVarString(encoder, docName)
    encoding.writeUint8Array(encoder, data)
    return encoding.toUint8Array(encoder)
  }

  const deliver = (s: Session, data: Uint8Array): void => {
    if (!s.conn) return
    if (s.docName !== null) {
      s.conn.receive(wrapSingle(s.docName, data))
      return
    }
    // Control frames travel on the empty document name.
    const decoder = decoding.createDecoder(data)
    let name: string
    try {
      name = decoding.readVarString(decoder)
    } catch {
      closeSession(s, CloseCode.protocolError, 'malformed frame', 'malformed')
      return
    }
    if (name !== '') {
      s.conn.receive(data)
      return
    }
    try {
      const type = decoding.readVarUint(decoder)
      if (type !== ControlType.refreshToken) throw new Error('unknown control frame')
      const token = decoding.readVarString(decoder)
      verify(token).then(
        (verified) => {
          if (verified.identity !== s.identity)
            closeSession(s, CloseCode.unauthorized, 'token identity changed', 'unauthorized')
          else armExpiry(s, verified)
        },
        (error: unknown) =>
          error instanceof ColloquyError && error.code === 'REJECTED'
            ? closeSession(s, CloseCode.tokenExpired, 'token expired', 'token_expired')
            : closeSession(s, CloseCode.unauthorized, 'invalid token', 'unauthorized'),
      )
    } catch {
      closeSession(s, CloseCode.protocolError, 'malformed control frame', 'malformed')
    }
  }

  const onConnection = (ws: WebSocket, req: IncomingMessage, url: URL): void => {
    const path = decodeURIComponent(url.pathname)
    const s: Session = {
      ws,
      identity: null,
      conn: null,
      docName: path === '/' || path === '' ? null : path.slice(1),
      pending: [],
      pendingBytes: 0,
      bucket: new TokenBucket(limits.framesPerSecond, limits.frameBurst),
      expiryTimer: null,
      alive: true,
    }
    sessions.add(s)
    metrics.connections++
    metrics.connectionsTotal++
    ws.binaryType = 'nodebuffer'
    ws.on('pong', () => {
      s.alive = true
    })
    ws.on('message', (raw: RawData, isBinary: boolean) => {
      metrics.framesReceived++
      // Once the relay has decided to close this socket, nothing more it sends is acted on (or counted twice).
      if (ws.readyState !== WebSocket.OPEN) return
      if (!isBinary) {
        closeSession(s, CloseCode.protocolError, 'text frames are not part of the protocol', 'malformed')
        return
      }
      if (!s.bucket.take()) {
        closeSession(s, CloseCode.limitExceeded, 'rate limit exceeded', 'rate')
        return
      }
      const data = toBytes(raw)
      if (!s.conn) {
        s.pending.push(data)
        s.pendingBytes += data.byteLength
        if (s.pending.length > limits.maxPreAuthFrames || s.pendingBytes > limits.maxPreAuthBytes)
          closeSession(s, CloseCode.limitExceeded, 'too much data before authentication', 'pre_auth')
        return
      }
      deliver(s, data)
    })
    ws.on('close', () => {
      sessions.delete(s)
      metrics.connections--
      if (s.expiryTimer) clearTimeout(s.expiryTimer)
      s.conn?.closed()
    })
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes with 1009 by itself; count it.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') metrics.reject('frame_size')
    })

    const token = tokenFrom(req, url)
    if (!token) {
      closeSession(s, CloseCode.unauthorized, 'missing token', 'unauthorized')
      return
    }
    verify(token).then(
      (verified) => {
        if (ws.readyState !== WebSocket.OPEN) return
        if (core.connectionsOf(verified.identity) >= limits.maxConnectionsPerIdentity) {
          closeSession(s, CloseCode.limitExceeded, 'too many connections for this identity', 'connections_per_identity')
          return
        }
        s.identity = verified.identity
        armExpiry(s, verified)
        // Frames sent in one run of the event loop's microtasks leave together, a few dozen per
        // write (one syscall), not one write each: a client joining many documents gets two
        // answers per document. (Not all at once: the client starts on the first ones meanwhile.)
        const raw = req.socket
        let corked = 0
        const uncork = () => {
          if (corked === 0) return
          corked = 0
          raw.uncork()
        }
        s.conn = core.connect(verified.identity, {
          send: (data) => {
            if (ws.readyState !== WebSocket.OPEN) return
            if (corked === 0) {
              raw.cork()
              process.nextTick(uncork)
            } else if (corked >= CORKED_FRAMES) {
              raw.uncork()
              raw.cork()
              corked = 0
            }
            corked++
            if (s.docName === null) {
              ws.send(data)
              return
            }
            // Single-document mode: strip our document name prefix.
            const decoder = decoding.createDecoder(data)
            if (decoding.readVarString(decoder) === s.docName) ws.send(data.subarray(decoder.pos))
          },
          close: (code, reason) => closeSession(s, code, reason),
        })
        logger.info('connection_open', {
          identity: verified.identity,
          mode: s.docName === null ? 'multiplexed' : 'single',
        })
        const pending = s.pending
        s.pending = []
        s.pendingBytes = 0
        for (const data of pending) deliver(s, data)
      },
      (error: unknown) => {
        if (error instanceof ColloquyError && error.code === 'REJECTED')
          closeSession(s, CloseCode.tokenExpired, 'token expired', 'token_expired')
        else closeSession(s, CloseCode.unauthorized, 'invalid token', 'unauthorized')
      },
    )
  }

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://relay')
    } catch {
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, url))
  })

  const heartbeat = setInterval(() => {
    for (const s of sessions) {
      if (!s.alive) {
        s.ws.terminate()
        continue
      }
      s.alive = false
      s.ws.ping()
    }
  }, heartbeatMs)
  heartbeat.unref()

  let port = 0
  let host = '127.0.0.1'
  let closed = false
  return {
    core,
    metrics,
    get port() {
      return port
    },
    get url() {
      return `ws://${host.includes(':') ? `[${host}]` : host}:${port}`
    },
    listen(p = 0, h = '127.0.0.1') {
      return new Promise<number>((resolve, reject) => {
        http.once('error', reject)
        http.listen(p, h, () => {
          http.off('error', reject)
          port = (http.address() as AddressInfo).port
          host = h
          logger.info('relay_listening', { port, host })
          resolve(port)
        })
      })
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      for (const s of sessions) {
        if (s.expiryTimer) clearTimeout(s.expiryTimer)
        s.ws.close(CloseCode.goingAway, 'relay shutting down')
      }
      await core.close()
      for (const s of sessions) s.ws.terminate()
      wss.close()
      await new Promise<void>((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      })
      if (ownsStorage) await storage.close()
      stampState?.close()
      logger.info('relay_closed', {})
    },
  }
}
