#!/usr/bin/env node
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { jsonLogger } from './log.ts'
import { restartUnderRelayFlags } from './node-flags.ts'
import { createRelay } from './server.ts'

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
Runs Node with --max-semi-space-size=4 (a small young generation keeps RSS near the heap)
unless the node command line or NODE_OPTIONS sets that flag.`

const { values } = parseArgs({
  options: {
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
  },
})

const restartError = restartUnderRelayFlags()

if (values.help) {
  process.stdout.write(`${HELP}\n`)
  process.exit(0)
}

const env = process.env
const fail = (message: string): never => {
  process.stderr.write(`colloquy-relay: ${message}\n(see --help)\n`)
  process.exit(2)
}

const port = Number(values.port ?? env.COLLOQUY_PORT ?? 8787)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be an integer from 0 to 65535')
const publicKeyFile = values['public-key'] ?? env.COLLOQUY_PUBLIC_KEY_FILE
let secret = values.secret ?? env.COLLOQUY_SECRET
if (!secret && !publicKeyFile && values.dev) {
  secret = randomBytes(32).toString('hex')
  process.stdout.write(`development mode: token secret for this run is ${secret}\n`)
}
if (!secret && !publicKeyFile) fail('set a token secret (--secret or COLLOQUY_SECRET) or a public key (--public-key)')

const logger = jsonLogger((line) => process.stderr.write(line))
if (restartError) logger.warn('node_flags_not_applied', { reason: restartError.message })
const relay = await createRelay({
  auth: {
    secret,
    publicKey: publicKeyFile ? readFileSync(publicKeyFile, 'utf8') : undefined,
    algorithm: (values.algorithm ?? env.COLLOQUY_ALGORITHM) as 'ES256' | undefined,
    issuer: values.issuer ?? env.COLLOQUY_ISSUER,
    audience: values.audience ?? env.COLLOQUY_AUDIENCE,
  },
  dataPath: values.db ?? env.COLLOQUY_DB ?? './colloquy.sqlite',
  logger,
}).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)))

const bound = await relay.listen(port, values.host ?? env.COLLOQUY_HOST ?? '127.0.0.1')
process.stdout.write(`colloquy relay listening on ${relay.url} (port ${bound})\n`)

let stopping = false
const stop = (): void => {
  if (stopping) return
  stopping = true
  relay.close().then(
    () => process.exit(0),
    () => process.exit(1),
  )
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
