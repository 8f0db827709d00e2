/**
 * The relay command, loaded by relay/cli.ts once the Node version is known to be good: reads the
 * options, starts the relay, stops it on SIGINT or SIGTERM.
 *
 * Every start-up error ends the process with one line on stderr and a non-zero exit code, never a
 * stack trace: 2 for a bad command line (unknown flag, bad port, no secret, unreadable key file), 1
 * for anything else (port in use, store in use or not writable).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { restartUnderRelayFlags } from './node-flags.ts'

const HELP = `colloquy-relay — the self-hosted relay for colloquy conversations

Usage: colloquy-relay [options]

Options (each also readable from the environment variable shown):
  --port <n>             port to listen on (COLLOQUY_PORT, default 8787; 0 = any free port)
  --host <addr>          address to bind (COLLOQUY_HOST, default 127.0.0.1)
  --db <path>            SQLite store (COLLOQUY_DB, default ./colloquy.sqlite)
  --secret <s>           HS256 token secret, ≥ 32 bytes (COLLOQUY_SECRET)
  --public-key <file>    PEM public key for asymmetric tokens (COLLOQUY_PUBLIC_KEY_FILE)
  --algorithm <alg>      ES256 | ES384 | RS256 | EdDSA (COLLOQUY_ALGORITHM, default ES256)
  --issuer <iss>         required token issuer (COLLOQUY_ISSUER)
  --audience <aud>       required token audience (COLLOQUY_AUDIENCE)
  --dev                  development mode: a random secret unless one is set, printed
                         so you can sign tokens with it. Never use it in production.
  -h, --help             show this help

Endpoints: ws://host:port/ (multiplexed), ws://host:port/<doc> (stock y-websocket),
GET /healthz, GET /metrics. Logs: one JSON object per line on stderr.
Exit codes: 0 stopped by SIGINT/SIGTERM, 1 could not start or run, 2 bad command line.
Runs Node with --max-semi-space-size=4 (a small young generation keeps RSS near the heap)
unless the node command line or NODE_OPTIONS sets that flag.`

/** Ends the process with one line on stderr. */
function exit(code: 1 | 2, message: string): never {
  process.stderr.write(`colloquy-relay: ${message}${code === 2 ? ' (see --help)' : ''}\n`)
  process.exit(code)
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** What a failed `listen` means, in the operator's words. */
const listenError = (error: unknown, port: number, host: string): string => {
  const code = (error as NodeJS.ErrnoException).code
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: the port is already in use`
  if (code === 'EACCES') return `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no such address on this machine`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot listen on ${where}: unknown host ${host}`
  return `cannot listen on ${where}: ${messageOf(error)}`
}

const options = {
  port: { type: 'string' },
  host: { type: 'string' },
  db: { type: 'string' },
  secret: { type: 'string' },
  'public-key': { type: 'string' },
  algorithm: { type: 'string' },
  issuer: { type: 'string' },
  audience: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  dev: { type: 'boolean' },
} as const

let values: ReturnType<typeof parseArgs<{ options: typeof options }>>['values']
try {
  values = parseArgs({ options }).values
} catch (error) {
  // `Unknown option '--prot'. To specify a positional argument…`: the first sentence says it.
  exit(2, messageOf(error).split('. ')[0]!.replace(/\.$/, ''))
}

if (values.help) {
  process.stdout.write(`${HELP}\n`)
  process.exit(0)
}

const env = process.env
const portText = values.port ?? env.COLLOQUY_PORT ?? '8787'
const port = Number(portText)
if (!/^\d+$/.test(portText) || port > 65535) exit(2, `--port must be an integer from 0 to 65535, not '${portText}'`)
const host = values.host ?? env.COLLOQUY_HOST ?? '127.0.0.1'
const dataPath = values.db ?? env.COLLOQUY_DB ?? './colloquy.sqlite'
const publicKeyFile = values['public-key'] ?? env.COLLOQUY_PUBLIC_KEY_FILE
let publicKey: string | undefined
if (publicKeyFile) {
  try {
    publicKey = readFileSync(publicKeyFile, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    exit(
      2,
      `cannot read the public key file ${publicKeyFile}: ${code === 'ENOENT' ? 'no such file' : messageOf(error)}`,
    )
  }
}
let secret = values.secret ?? env.COLLOQUY_SECRET
if (!secret && !publicKey && !values.dev)
  exit(2, 'set a token secret (--secret or COLLOQUY_SECRET) or a public key (--public-key)')

// The command line is good: restart under the relay's V8 flags before doing anything that shows
// (this process is replaced and runs from the top again).
const restartError = restartUnderRelayFlags()

if (!secret && !publicKey) {
  secret = randomBytes(32).toString('hex')
  process.stdout.write(`development mode: token secret for this run is ${secret}\n`)
}

// Loaded only now: the relay (and better-sqlite3) after the version check and the restart.
const [{ createRelay }, { jsonLogger }] = await Promise.all([import('./server.ts'), import('./log.ts')])
const logger = jsonLogger((line) => process.stderr.write(line))
if (restartError) logger.warn('node_flags_not_applied', { reason: restartError.message })

const relay = await createRelay({
  auth: {
    secret,
    publicKey,
    algorithm: (values.algorithm ?? env.COLLOQUY_ALGORITHM) as 'ES256' | undefined,
    issuer: values.issuer ?? env.COLLOQUY_ISSUER,
    audience: values.audience ?? env.COLLOQUY_AUDIENCE,
  },
  dataPath,
  logger,
}).catch((error: unknown) => exit(1, messageOf(error)))

let bound: number
try {
  bound = await relay.listen(port, host)
} catch (error) {
  // Store everything and let go of the store's lock before leaving.
  await relay.close().catch(() => {})
  exit(1, listenError(error, port, host))
}
process.stdout.write(`colloquy relay listening on ${relay.url} (port ${bound})\n`)

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  relay.close().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error('relay_close_failed', { message: messageOf(error) })
      process.exit(1)
    },
  )
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
