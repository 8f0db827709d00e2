/** The terminal chat's command line: options, each also readable from the environment. */
import { parseArgs } from 'node:util'
import { visible } from './visible.ts'

export const HELP = `colloquy terminal chat

Usage: node examples/terminal-chat/main.ts [options]

Options (each also readable from the environment variable shown):
  --name <name>           who you are, for the development sign-in (COLLOQUY_NAME)
  --token <jwt>           a relay token from your backend, instead of --name (COLLOQUY_TOKEN)
  --relay <url>           the relay, e.g. ws://127.0.0.1:8787 (COLLOQUY_RELAY_URL; default: what
                          the development sign-in says, else ws://127.0.0.1:8787)
  --dev-token-url <url>   development sign-in endpoint (COLLOQUY_DEV_TOKEN_URL,
                          default http://127.0.0.1:5173/dev/token — the one \`npm start\` serves)
  --db <path>             SQLite file (COLLOQUY_CHAT_DB, default ./chat-<name>.sqlite)
  --join <name-or-sid>    open this conversation at start
  -h, --help              show this help

Commands: /join <name-or-sid>  /add <name>  /history [n]  /list  /who  /help  /quit
Anything else is sent as a message to the open conversation.`

export interface Options {
  /** A token from the app's backend; null: the development sign-in. */
  token: string | null
  identity: string
  /** null: what the development sign-in says, else ws://127.0.0.1:8787. */
  relayUrl: string | null
  devTokenUrl: string
  dbPath: string
  join: string | null
}

/** Exits with status 2 and `message` on stderr (escaped: it may quote a server's answer). */
export const fail = (message: string): never => {
  process.stderr.write(`terminal-chat: ${visible(message)}\n`)
  process.exit(2)
}

/** `sub` of a JWT, unverified (the relay verifies). */
const subjectOf = (token: string): string => {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub?: unknown
    }
    if (typeof payload.sub === 'string') return payload.sub
  } catch {}
  return fail('the token is not a JWT with a subject')
}

/** The options, or exits (after printing the help for -h). */
export const readOptions = (env: NodeJS.ProcessEnv = process.env): Options => {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      token: { type: 'string' },
      relay: { type: 'string' },
      'dev-token-url': { type: 'string' },
      db: { type: 'string' },
      join: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(`${HELP}\n`)
    process.exit(0)
  }
  const token = values.token ?? env.COLLOQUY_TOKEN ?? null
  const name = (values.name ?? env.COLLOQUY_NAME)?.trim().toLowerCase()
  if (!token && !name) fail('give --name (development sign-in) or --token (see --help)')
  const identity = token ? subjectOf(token) : name!
  return {
    token,
    identity,
    relayUrl: values.relay ?? env.COLLOQUY_RELAY_URL ?? null,
    devTokenUrl: values['dev-token-url'] ?? env.COLLOQUY_DEV_TOKEN_URL ?? 'http://127.0.0.1:5173/dev/token',
    dbPath: values.db ?? env.COLLOQUY_CHAT_DB ?? `./chat-${identity.replace(/[^\p{L}\p{N}._-]/gu, '_')}.sqlite`,
    join: values.join ?? null,
  }
}
