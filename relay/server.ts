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
import { ControlType, encodeHello, MAX_TOKEN_FRAME_BYTES } from '../src/sync/protocol.ts'
import { CloseCode } from '../src/sync/transport.ts'
import { type AuthOptions, createVerifier, type TokenVerifier, type VerifiedToken } from './auth.ts'
import { type CoreConnection, RelayCore } from './core.ts'
import { answerHttp } from './endpoints.ts'
import { DEFAULT_LIMITS, type RelayLimits, TokenBucket } from './limits.ts'
import { type Logger, silentLogger, startupSummary } from './log.ts'
import { RelayMetrics } from './metrics.ts'
import { checkRelayOptions } from './options.ts'
import { parseUpgradeTarget, refuseUpgrade, type UpgradeTarget } from './request.ts'
import { StampState } from './stamp-state.ts'
import { lockStore, type StoreLock } from './store-lock.ts'

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
  /** For the logs: the peer's address and when the connection opened (`performance.now()`). */
  address: string | null
  openedAt: number
  req: IncomingMessage
  /** Opened without a token: the next frame must be a token frame. */
  awaitingToken: boolean
  /** Closes the connection unless it is authenticated in time. */
  authTimer: ReturnType<typeof setTimeout> | null
}

const toBytes = (data: RawData): Uint8Array => {
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data))
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

const byteLength = (data: RawData): number =>
  Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : data.byteLength

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
  checkRelayOptions(options)
  const verify: TokenVerifier = await createVerifier(options.auth)
  const limits: RelayLimits = { ...DEFAULT_LIMITS, ...options.limits }
  const logger = options.logger ?? silentLogger
  const metrics = new RelayMetrics()
  const heartbeatMs = checkDuration(options.heartbeatMs, 30_000, 'heartbeatMs')
  if (heartbeatMs === 0) throw invalidArgument('heartbeatMs must be more than 0')
  const ownsStorage = options.storage === undefined
  const dataPath = options.dataPath ?? ':memory:'
  const storage = options.storage ?? createSqliteStorage({ path: dataPath })
  let lock: StoreLock | null = null
  let core: RelayCore
  let stampState: StampState | null = null
  try {
    // One relay per store file: a second one would hand out the same message indices.
    if (ownsStorage && dataPath !== ':memory:') lock = lockStore(dataPath)
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
      clientIdLimits: { perHour: limits.clientIdsPerHour, total: limits.maxClientIdsPerIdentity },
      maxDocumentsPerIdentity: limits.maxDocumentsPerIdentity,
      quotas: limits,
      metrics,
      logger,
      onError: (error) => {
        metrics.relayError('core')
        logger.error('relay_error', { where: 'core', message: error instanceof Error ? error.message : String(error) })
      },
    })
  } catch (error) {
    // A bad option or a store in use: the store this call opened is closed again.
    stampState?.close()
    if (ownsStorage) await storage.close()
    lock?.release()
    throw error
  }
  const sessions = new Set<Session>()
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes })

  const relayBug = (where: string, error: unknown): void => {
    metrics.relayError(where)
    logger.error('relay_error', { where, message: error instanceof Error ? error.message : String(error) })
  }

  const http: Server = createServer((req: IncomingMessage, res: ServerResponse) =>
    answerHttp(req, res, { metrics, core, onError: (error) => relayBug('http', error) }),
  )

  const closeSession = (s: Session, code: number, reason: string, metric?: string): void => {
    if (metric) {
      metrics.reject(metric)
      // The identity once the token is verified; never the token.
      logger.warn('connection_refused', {
        reason: metric,
        code,
        message: reason,
        identity: s.identity,
        address: s.address,
      })
    }
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
      if (type !== ControlType.token) throw new Error('unknown control frame')
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

  /**
   * Wraps a listener of network events: an exception in it is a relay bug, logged, and it drops
   * that connection rather than ending the process.
   */
  const guard =
    <A extends unknown[]>(s: Session, listener: (...args: A) => void) =>
    (...args: A): void => {
      try {
        listener(...args)
      } catch (error) {
        relayBug('frame', error)
        s.ws.terminate()
      }
    }

  const onConnection = (ws: WebSocket, req: IncomingMessage, { url, docName }: UpgradeTarget): void => {
    const s: Session = {
      ws,
      identity: null,
      conn: null,
      docName,
      pending: [],
      pendingBytes: 0,
      bucket: new TokenBucket(limits.framesPerSecond, limits.frameBurst),
      expiryTimer: null,
      alive: true,
      address: req.socket.remoteAddress ?? null,
      openedAt: performance.now(),
      req,
      awaitingToken: false,
      authTimer: null,
    }
    sessions.add(s)
    metrics.connections++
    metrics.connectionsTotal++
    ws.binaryType = 'nodebuffer'
    ws.on('pong', () => {
      s.alive = true
    })
    const onFrame = (raw: RawData, isBinary: boolean): void => {
      metrics.framesReceived++
      metrics.bytesReceived += byteLength(raw)
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
      if (s.awaitingToken) {
        tokenFrame(s, data)
        return
      }
      if (!s.conn) {
        s.pending.push(data)
        s.pendingBytes += data.byteLength
        if (s.pending.length > limits.maxPreAuthFrames || s.pendingBytes > limits.maxPreAuthBytes)
          closeSession(s, CloseCode.limitExceeded, 'too much data before authentication', 'pre_auth')
        return
      }
      const arrived = performance.now()
      deliver(s, data)
      s.conn.whenIdle().then(() => metrics.observeDelivery((performance.now() - arrived) / 1000))
    }
    ws.on('message', guard(s, onFrame))
    ws.on('close', (code: number, reason: Buffer) => {
      logger.info('connection_closed', {
        identity: s.identity,
        code,
        reason: reason.toString('utf8', 0, 123),
        durationMs: Math.round(performance.now() - s.openedAt),
        address: s.address,
      })
      sessions.delete(s)
      metrics.connections--
      if (s.expiryTimer) clearTimeout(s.expiryTimer)
      if (s.authTimer) clearTimeout(s.authTimer)
      s.conn?.closed()
    })
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes with 1009 by itself; count it.
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') metrics.reject('frame_size')
    })

    const token = tokenFrom(req, url)
    if (token) {
      authenticate(s, token, false)
      return
    }
    // No token in the request: a multiplexed client sends it as its first frame, so that it
    // appears in no URL (browsers log the URL of a failed WebSocket, proxies log request lines).
    // A stock client in single-document mode cannot, and is refused at once.
    if (s.docName !== null) {
      closeSession(s, CloseCode.unauthorized, 'missing token', 'unauthorized')
      return
    }
    s.awaitingToken = true
    s.authTimer = setTimeout(
      () => closeSession(s, CloseCode.unauthorized, 'no token in time', 'unauthorized'),
      limits.authTimeoutMs,
    )
  }

  /** Handles the first frame of a connection opened without a token: it must be a token frame. */
  const tokenFrame = (s: Session, data: Uint8Array): void => {
    s.awaitingToken = false
    let token: string | null = null
    if (data.byteLength <= MAX_TOKEN_FRAME_BYTES) {
      try {
        const decoder = decoding.createDecoder(data)
        if (decoding.readVarString(decoder) === '' && decoding.readVarUint(decoder) === ControlType.token)
          token = decoding.readVarString(decoder)
      } catch {
        token = null
      }
    }
    if (token === null) closeSession(s, CloseCode.unauthorized, 'the first frame must be a token', 'unauthorized')
    else authenticate(s, token, true)
  }

  /** Verifies `token` and connects the session to the core; `viaFrame`: it came as the first frame. */
  const authenticate = (s: Session, token: string, viaFrame: boolean): void => {
    const { ws, req } = s
    const authenticated = verify(token).then(
      (verified) => {
        if (ws.readyState !== WebSocket.OPEN) return
        s.identity = verified.identity
        if (core.connectionsOf(verified.identity) >= limits.maxConnectionsPerIdentity) {
          closeSession(s, CloseCode.limitExceeded, 'too many connections for this identity', 'connections_per_identity')
          return
        }
        if (s.authTimer) clearTimeout(s.authTimer)
        s.authTimer = null
        armExpiry(s, verified)
        // A client that sent its token in a frame reads control frames: tell it the relay's limits
        // before anything else.
        if (viaFrame) ws.send(encodeHello(limits.maxFrameBytes))
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
              metrics.sent(data.byteLength)
              ws.send(data)
              return
            }
            // Single-document mode: strip our document name prefix.
            const decoder = decoding.createDecoder(data)
            if (decoding.readVarString(decoder) !== s.docName) return
            metrics.sent(data.byteLength - decoder.pos)
            ws.send(data.subarray(decoder.pos))
          },
          close: (code, reason) => closeSession(s, code, reason),
          // A client that sent its token in a frame reads `refused` frames: a refused update or a
          // document over the limit is refused alone. Others (stock y-websocket clients, older
          // colloquy clients with the token in the URL) would not see one: their socket is closed
          // (4422, 4429) as before.
          refusalFrames: viaFrame,
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
    // A throw in the handlers above would be an unhandled rejection, which ends a Node process.
    authenticated.catch((error: unknown) => {
      relayBug('authenticate', error)
      ws.terminate()
    })
  }

  // Upgrade requests come from anyone, before authentication: an exception must end that one
  // request (a 400 answer, or the connection dropped once upgraded) and be logged, never the process.
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      const target = parseUpgradeTarget(req.url)
      if (!target) {
        metrics.reject('bad_request')
        logger.warn('request_refused', { reason: 'bad_request', code: 400, address: req.socket.remoteAddress ?? null })
        refuseUpgrade(socket, 400, 'malformed request path')
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        try {
          onConnection(ws, req, target)
        } catch (error) {
          relayBug('upgrade', error)
          ws.terminate()
        }
      })
    } catch (error) {
      relayBug('upgrade', error)
      socket.destroy()
    }
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
      if (!Number.isInteger(p) || p < 0 || p > 65535)
        return Promise.reject(invalidArgument('listen: port must be an integer from 0 to 65535'))
      if (typeof h !== 'string' || h.length === 0)
        return Promise.reject(invalidArgument('listen: host must be a string'))
      if (closed) return Promise.reject(new ColloquyError('CLOSED', 'the relay is closed'))
      if (http.listening)
        return Promise.reject(new ColloquyError('CONFLICT', `the relay already listens on port ${port}`))
      return new Promise<number>((resolve, reject) => {
        http.once('error', reject)
        http.listen(p, h, () => {
          http.off('error', reject)
          // Once listening, a server error (accepting a connection failed) is logged; unheard, it would end the process.
          http.on('error', (error) => relayBug('http', error))
          port = (http.address() as AddressInfo).port
          host = h
          logger.info('relay_listening', { port, host, ...startupSummary(options, limits, heartbeatMs) })
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
        if (s.authTimer) clearTimeout(s.authTimer)
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
      lock?.release()
      stampState?.close()
      logger.info('relay_closed', {})
    },
  }
}
