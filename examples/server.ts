/**
 * The examples' development server — `npm start`.
 *
 * One Node process that runs:
 *   - the colloquy relay (`createRelay`), storing every conversation in SQLite;
 *   - the web chat (examples/web-chat), built with Vite at start and served as static files;
 *   - a DEVELOPMENT-ONLY token endpoint, `POST /dev/token {"name": "alice"}`, that signs a relay token
 *     for whatever name the page sends. There is no password: anyone who can reach this server can
 *     sign in as anyone. A real app signs tokens in its own backend, after its own login, with
 *     `signToken` from `colloquy/relay` (or any JWT library) — see README.md.
 *
 * Environment:
 *   PORT            web chat port (default 5173; 0 picks a free one)
 *   RELAY_PORT      relay port (default 8787; 0 picks a free one)
 *   HOST            address both listen on (default 127.0.0.1)
 *   COLLOQUY_DB     the relay's SQLite file (default ./colloquy.sqlite)
 *   COLLOQUY_SECRET token secret (default: a random one, kept in `<COLLOQUY_DB>-dev-secret` so
 *                   tokens stay valid across restarts; printed at start)
 *   COLLOQUY_LOG    `json`: the relay's structured logs on stderr
 *
 * Tests import `startExampleServer` and drive it directly (port 0, a temporary store, relay restarts).
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRelay, jsonLogger, type Logger, type Relay, signToken, silentLogger } from '../relay/index.ts'

/** Options of {@link startExampleServer}. */
export interface ExampleServerOptions {
  /** Web chat port (0: any free port). Default 5173. */
  port?: number
  /** Relay port (0: any free port; a restarted relay keeps the port it got). Default 8787. */
  relayPort?: number
  /** Address both servers bind. Default 127.0.0.1. */
  host?: string
  /** The relay's SQLite file. Default ./colloquy.sqlite. */
  dbPath?: string
  /** Token secret (≥ 32 bytes). Default: random, kept next to the database. */
  secret?: string
  /** Serve `POST /dev/token`. Development only. Default true. */
  devTokens?: boolean
  /** Where the web chat is built. Default examples/web-chat/dist. */
  outDir?: string
  /** Skip the Vite build and serve what `outDir` holds. Default false. */
  skipBuild?: boolean
  /** Lifetime of development tokens. Default 12 hours. */
  tokenLifetimeSeconds?: number
  /** The relay's structured logs. Default: silent. */
  logger?: Logger
  /** Human-readable progress lines. Default: none. */
  log?: (line: string) => void
}

/** A running example server. */
export interface ExampleServer {
  /** The web chat, e.g. `http://127.0.0.1:5173`. */
  readonly url: string
  /** The relay, e.g. `ws://127.0.0.1:8787`. */
  readonly relayUrl: string
  /** The relay's port (kept across restarts). */
  readonly relayPort: number
  /** The secret the relay checks tokens with (so tests can sign their own). */
  readonly secret: string
  /** Closes the relay (storing everything) and starts a new one on the same store and port. */
  restartRelay(): Promise<void>
  /** Stops the relay (storing everything) and the web server. */
  close(): Promise<void>
}

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
}

/** Names the development sign-in accepts: letters, digits, `.`, `_`, `-`; stored lower-case. */
const DEV_NAME = /^[\p{L}\p{N}._-]{1,32}$/u

const devSecret = (dbPath: string): string => {
  if (dbPath === ':memory:') return randomBytes(32).toString('hex')
  const file = `${dbPath}-dev-secret`
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim()
    if (kept.length >= 32) return kept
  }
  const secret = randomBytes(32).toString('hex')
  writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  return secret
}

/** Builds the web chat with Vite into `outDir`. */
export const buildWebChat = async (outDir?: string): Promise<void> => {
  const [{ build }, { webChatConfig }] = await Promise.all([import('vite'), import('./web-chat/vite.config.ts')])
  await build(webChatConfig(outDir))
}

const readBody = (req: IncomingMessage, limit: number): Promise<string> =>
  new Promise((resolvePromise, reject) => {
    let size = 0
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        reject(new Error('body too large'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolvePromise(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })

const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

const listen = (server: Server, port: number, host: string): Promise<number> =>
  new Promise((resolvePromise, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolvePromise((server.address() as AddressInfo).port)
    })
  })

/**
 * Starts the relay and the web chat. Resolves once both listen.
 *
 * @example
 * const server = await startExampleServer({ port: 0, relayPort: 0, dbPath: ':memory:' })
 * await server.restartRelay()
 * await server.close()
 */
export const startExampleServer = async (options: ExampleServerOptions = {}): Promise<ExampleServer> => {
  const host = options.host ?? '127.0.0.1'
  const dbPath = options.dbPath ?? './colloquy.sqlite'
  const secret = options.secret ?? devSecret(dbPath)
  const devTokens = options.devTokens ?? true
  const outDir = resolve(options.outDir ?? here('./web-chat/dist'))
  const lifetime = options.tokenLifetimeSeconds ?? 12 * 3600
  const log = options.log ?? (() => {})

  if (!options.skipBuild) {
    const started = Date.now()
    await buildWebChat(outDir)
    log(`built the web chat in ${Date.now() - started} ms`)
  }
  if (!existsSync(join(outDir, 'index.html'))) throw new Error(`no web chat build in ${outDir}`)

  const newRelay = (): Promise<Relay> =>
    createRelay({ auth: { secret }, dataPath: dbPath, logger: options.logger ?? silentLogger })

  let relay = await newRelay()
  let relayPort = await relay.listen(options.relayPort ?? 8787, host)

  const relayUrlFor = (req: IncomingMessage): string => {
    // The relay as the browser reaches it: the host the page was loaded from, the relay's port.
    let hostname = host
    try {
      hostname = new URL(`http://${req.headers.host ?? host}`).hostname
    } catch {}
    return `ws://${hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname}:${relayPort}`
  }

  const devToken = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let name: unknown
    try {
      name = (JSON.parse(await readBody(req, 4096)) as { name?: unknown }).name
    } catch {
      sendJson(res, 400, { error: 'send JSON: {"name": "alice"}' })
      return
    }
    const identity = typeof name === 'string' ? name.trim().toLowerCase() : ''
    if (!DEV_NAME.test(identity)) {
      sendJson(res, 400, { error: 'a name is 1–32 letters, digits, ".", "_" or "-"' })
      return
    }
    const token = await signToken({ identity, secret, expiresInSeconds: lifetime })
    sendJson(res, 200, { token, relayUrl: relayUrlFor(req), identity, development: true })
  }

  const serveStatic = (req: IncomingMessage, res: ServerResponse, pathname: string): void => {
    let path = normalize(decodeURIComponent(pathname))
    if (path.endsWith(sep) || path === '.') path = join(path, 'index.html')
    let file = join(outDir, path)
    if (!file.startsWith(outDir + sep)) {
      res.writeHead(403).end()
      return
    }
    // Unknown paths without an extension get the app (client-side routes).
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (extname(path) !== '') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
        return
      }
      file = join(outDir, 'index.html')
    }
    const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream'
    const immutable = file.startsWith(join(outDir, 'assets') + sep)
    res.writeHead(200, {
      'content-type': type,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    })
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file))
  }

  const web = createServer((req, res) => {
    // Request targets come from anyone: `//`, `http://[` or a bad escape must get a 400, not end the process.
    try {
      answerWeb(req, res)
    } catch {
      if (!res.headersSent) res.writeHead(400)
      res.end()
    }
  })
  const answerWeb = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (url.pathname === '/dev/token') {
      if (!devTokens) {
        sendJson(res, 404, { error: 'development sign-in is off' })
        return
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end()
        return
      }
      devToken(req, res).catch((error: unknown) => sendJson(res, 500, { error: String(error) }))
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    serveStatic(req, res, url.pathname)
  }
  let webPort: number
  try {
    webPort = await listen(web, options.port ?? 5173, host)
  } catch (error) {
    await relay.close()
    throw error
  }
  const printable = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host
  const url = `http://${printable}:${webPort}`
  log(`relay listening on ws://${printable}:${relayPort} (store: ${dbPath})`)
  if (devTokens) log('DEVELOPMENT sign-in is on: POST /dev/token signs a token for any name. Never expose this server.')
  log(`web chat on ${url}`)

  let restarting: Promise<void> | null = null
  let closed = false
  return {
    url,
    get relayUrl() {
      return `ws://${printable}:${relayPort}`
    },
    get relayPort() {
      return relayPort
    },
    secret,
    restartRelay() {
      if (closed) return Promise.reject(new Error('the example server is closed'))
      restarting ??= (async () => {
        await relay.close()
        relay = await newRelay()
        relayPort = await relay.listen(relayPort, host)
        log(`relay restarted on port ${relayPort}`)
      })().finally(() => {
        restarting = null
      })
      return restarting
    },
    async close() {
      if (closed) return
      closed = true
      await restarting?.catch(() => {})
      await new Promise<void>((resolvePromise) => {
        web.close(() => resolvePromise())
        web.closeAllConnections()
      })
      await relay.close()
    },
  }
}

// `node examples/server.ts` (npm start): start everything, stop cleanly on Ctrl-C.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = process.env
  const port = (name: string, fallback: number): number => {
    const value = Number(env[name] ?? fallback)
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      process.stderr.write(`${name} must be a port number (0–65535)\n`)
      process.exit(2)
    }
    return value
  }
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`)
  }
  // Handlers first, so a Ctrl-C at any moment closes what is open.
  let server: ExampleServer | null = null
  let stopping = false
  const stop = (): void => {
    if (stopping || !server) process.exit(stopping ? 1 : 130)
    stopping = true
    say('  stopping: closing the relay and storing everything…')
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`error while stopping: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)

  server = await startExampleServer({
    port: port('PORT', 5173),
    relayPort: port('RELAY_PORT', 8787),
    host: env.HOST ?? '127.0.0.1',
    dbPath: env.COLLOQUY_DB ?? './colloquy.sqlite',
    secret: env.COLLOQUY_SECRET,
    logger: env.COLLOQUY_LOG === 'json' ? jsonLogger((line) => process.stderr.write(line)) : undefined,
    log: (line) => say(`  ${line}`),
  }).catch((error: unknown) => {
    process.stderr.write(`could not start: ${error instanceof Error ? error.message : String(error)}\n`)
    return process.exit(1)
  })
  if (!env.COLLOQUY_SECRET) {
    const dbPath = env.COLLOQUY_DB ?? './colloquy.sqlite'
    const where = dbPath === ':memory:' ? 'this run only' : `kept in ${dbPath}-dev-secret`
    say(`  development token secret (${where}): ${server.secret}`)
  }
  say('')
  say(`  colloquy examples — open ${server.url} in two browser windows (or one normal, one private)`)
  say('  terminal chat: npm run chat -- --name bob')
  say('  DEVELOPMENT ONLY — sign-in without passwords. Press Ctrl-C to stop.')
  say('')
}
