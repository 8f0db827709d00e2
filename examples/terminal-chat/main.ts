#!/usr/bin/env node
/**
 * colloquy terminal chat: one conversation at a time, stored in SQLite, synced through the relay
 * whenever it is reachable. It starts (and works) offline: what you write is kept in the database
 * and sent when the relay comes back.
 *
 *   npm start                              # the relay and web chat, in another terminal
 *   npm run chat -- --name bob             # development sign-in through the example server
 *   node examples/terminal-chat/main.ts --token <jwt> --relay ws://127.0.0.1:8787 --db ./bob.sqlite
 *
 * In your app: `import { Client } from 'colloquy'` and `import { createSqliteStorage } from
 * 'colloquy/storage/sqlite'`. This example imports the sources directly.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { Client, type Conversation, type ConversationSnapshot, type Message } from '../../src/index.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'

const HELP = `colloquy terminal chat

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

const env = process.env
const fail = (message: string): never => {
  process.stderr.write(`terminal-chat: ${message}\n`)
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

const givenToken = values.token ?? env.COLLOQUY_TOKEN
const name = (values.name ?? env.COLLOQUY_NAME)?.trim().toLowerCase()
if (!givenToken && !name) fail('give --name (development sign-in) or --token (see --help)')
const identity = givenToken ? subjectOf(givenToken) : name!
const dbPath = values.db ?? env.COLLOQUY_CHAT_DB ?? `./chat-${identity.replace(/[^\p{L}\p{N}._-]/gu, '_')}.sqlite`
const devTokenUrl = values['dev-token-url'] ?? env.COLLOQUY_DEV_TOKEN_URL ?? 'http://127.0.0.1:5173/dev/token'
const tokenFile = `${dbPath}-token`

interface Kept {
  token: string
  relayUrl: string
}

/** DEVELOPMENT ONLY: the example server signs a token for any name. */
const devSignIn = async (): Promise<Kept> => {
  const response = await fetch(devTokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: identity }),
    signal: AbortSignal.timeout(5000),
  })
  const body = (await response.json()) as { token?: string; relayUrl?: string; error?: string }
  if (!response.ok || !body.token || !body.relayUrl) throw new Error(body.error ?? `HTTP ${response.status}`)
  const kept = { token: body.token, relayUrl: body.relayUrl }
  writeFileSync(tokenFile, JSON.stringify(kept), { mode: 0o600 })
  return kept
}

const readKept = (): Kept | null => {
  try {
    return existsSync(tokenFile) ? (JSON.parse(readFileSync(tokenFile, 'utf8')) as Kept) : null
  } catch {
    return null
  }
}

// ------------------------------------------------------------------ output

const tty = process.stdin.isTTY === true && process.stdout.isTTY === true
const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: '> ' })

/** Prints a line without mangling what the user is typing. */
const print = (line: string): void => {
  if (tty) {
    process.stdout.write('\r\x1b[2K')
    process.stdout.write(`${line}\n`)
    rl.prompt(true)
  } else {
    process.stdout.write(`${line}\n`)
  }
}
const note = (line: string): void => print(`* ${line}`)

// Input is read from the start (piped input may arrive before the client is open); commands run
// in order once it is.
let markReady: () => void = () => {}
let queue: Promise<void> = new Promise<void>((resolve) => {
  markReady = resolve
})
let closing = false
rl.on('line', (input) => {
  queue = queue.then(() => handle(input))
})
rl.on('close', () => void quit())
process.on('SIGINT', () => void quit())
process.on('SIGTERM', () => void quit())

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`

const clock = (d: Date): string => d.toTimeString().slice(0, 5)

const describe = (m: Message): string => {
  const parts: string[] = []
  for (const block of m.content) {
    if (block.type === 'text') parts.push(block.text)
    else if (block.type === 'location')
      parts.push(`📍 ${block.label ?? 'location'} (${block.latitude.toFixed(5)}, ${block.longitude.toFixed(5)})`)
    else parts.push(`📎 ${block.filename} <${block.url}>`)
  }
  return parts.join(' ')
}

const line = (m: Message): string => {
  const who = m.author === identity ? `${identity} (you)` : m.author
  const edited = m.dateUpdated ? ' (edited)' : ''
  // Online, a message is pending for a few milliseconds only: worth a mark when offline.
  const pending = m.index === null && client.connectionState !== 'connected' ? '  [pending]' : ''
  return `[${clock(m.dateCreated)}] ${who}: ${describe(m)}${edited}${pending}`
}

// ------------------------------------------------------------------ the client

let kept: Kept | null = null
let relayUrl = values.relay ?? env.COLLOQUY_RELAY_URL
if (!givenToken) {
  kept = await devSignIn().catch((error: unknown) => {
    const cached = readKept()
    if (!cached)
      fail(
        `cannot sign in through ${devTokenUrl} (${error instanceof Error ? error.message : String(error)}); ` +
          'is `npm start` running? The first sign-in needs it; afterwards the chat starts offline too.',
      )
    return cached!
  })
  relayUrl ??= kept.relayUrl
}
relayUrl ??= 'ws://127.0.0.1:8787'

const storage = (() => {
  try {
    return createSqliteStorage({ path: dbPath })
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
})()

const client = await Client.create({
  relayUrl,
  storage,
  token: givenToken
    ? givenToken
    : async () => {
        // The first call gets the token signed above; later calls refresh it (or keep the old one offline).
        if (kept) {
          const first = kept.token
          kept = null
          return first
        }
        return (await devSignIn().catch(() => readKept()))?.token ?? fail('no token')
      },
}).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)))

note(`signed in as ${client.identity} — stored in ${dbPath}, relay ${relayUrl}`)
if (!givenToken) note('DEVELOPMENT sign-in (no password): use real tokens from your backend in an app')

let online: boolean | null = null
const showConnection = (): void => {
  if (closing) return
  const now = client.connectionState === 'connected'
  if (now === online) return
  if (client.connectionState === 'denied') {
    note('the relay refused this sign-in (see --help)')
    online = false
    return
  }
  if (now) note('online: connected to the relay')
  else if (client.connectionState !== 'connecting' || online !== null)
    note('offline: messages are kept here and sent when the relay is reachable')
  else return
  online = now
}
client.on('connectionStateChanged', () => showConnection())
// Say "offline" if the first connection attempt does not succeed quickly.
setTimeout(() => {
  if (online === null) {
    online = client.connectionState === 'connected'
    if (!online) note('offline: messages are kept here and sent when the relay is reachable')
  }
}, 1500).unref()
client.on('connectionError', ({ code, message }) => note(`relay closed the connection: ${code} ${message}`))

let conversations: readonly ConversationSnapshot[] = []
const list = client.subscribeConversations(
  (items) => {
    conversations = items
  },
  { limit: 30 },
)

const nameOf = (c: Conversation | ConversationSnapshot): string =>
  c.friendlyName ?? c.uniqueName ?? ('sid' in c ? c.sid : c.id)

let current: Conversation | null = null
let offCurrent: Array<() => void> = []

// Conversations someone else added me to, and news from conversations that are not open.
client.on('conversationAdded', (c) => {
  if (c.createdBy !== client.identity) note(`you are in "${nameOf(c)}" (${c.sid}) — /join ${nameOf(c)}`)
})
client.on('messageAdded', (m) => {
  if (m.conversation !== current && m.author !== client.identity)
    note(`new message in "${nameOf(m.conversation)}" from ${m.author} — /join ${nameOf(m.conversation)}`)
})

const markRead = (c: Conversation): void => {
  if (c.status === 'joined') c.setAllMessagesRead().catch(() => {})
}

const history = async (c: Conversation, count: number): Promise<void> => {
  const page = await c.getMessages(Math.max(1, Math.min(100, count)))
  if (page.items.length === 0) note('no messages yet')
  if (page.hasPrevPage) note(`… older messages: /history ${count + 20}`)
  for (const m of page.items) print(line(m))
}

const open = async (c: Conversation): Promise<void> => {
  for (const off of offCurrent) off()
  current = c
  const pending = new Set<string>()
  const typing = c.subscribeTyping((t) => {
    const users = t.many ? null : t.users
    if (users && users.length === 0) return
    note(
      users === null || users.length > 2
        ? 'several people are typing…'
        : `${users.join(' and ')} ${users.length === 1 ? 'is' : 'are'} typing…`,
    )
  })
  offCurrent = [
    () => typing.unsubscribe(),
    c.on('messageAdded', (m) => {
      if (m.index === null && client.connectionState !== 'connected') pending.add(m.sid)
      print(line(m))
      markRead(c)
    }),
    c.on('messageUpdated', ({ message, updateReasons }) => {
      if (updateReasons.includes('index') && pending.delete(message.sid))
        note(`delivered: "${describe(message)}" (#${message.index})`)
      if (updateReasons.includes('body')) note(`${message.author} edited: ${describe(message)}`)
    }),
    c.on('messageRemoved', (m) => note(`${m.author} deleted a message`)),
    c.on('participantJoined', (p) => note(`${p.identity ?? p.address} joined`)),
    c.on('participantLeft', (p) => note(`${p.identity ?? p.address} left`)),
  ]
  for (const m of (await c.getMessages(100)).items) if (m.index === null) pending.add(m.sid)
  note(
    `joined "${nameOf(c)}" (${c.sid}) — ${plural(await c.getParticipantsCount(), 'person', 'people')}, ${plural(await c.getMessagesCount(), 'message', 'messages')}`,
  )
  await history(c, 10)
  markRead(c)
}

const find = async (query: string): Promise<Conversation | null> => {
  const q = query.toLowerCase()
  const match =
    conversations.find((c) => c.id === query) ??
    conversations.find((c) => c.friendlyName?.toLowerCase() === q) ??
    conversations.find((c) => c.uniqueName?.toLowerCase() === q)
  return match ? client.getConversationBySid(match.id) : null
}

const commands: Record<string, (arg: string) => Promise<void>> = {
  async help() {
    print(HELP.slice(HELP.indexOf('Commands:')))
  },
  async join(arg) {
    if (!arg) return note('usage: /join <name-or-sid>')
    let c = await find(arg)
    if (!c) {
      c = await client.createConversation({ friendlyName: arg, join: true })
      note(`created "${arg}" — /add people to it`)
    }
    await open(c)
  },
  async add(arg) {
    if (!current) return note('/join a conversation first')
    const who = arg.trim().toLowerCase()
    if (!who) return note('usage: /add <name>')
    await current.add(who)
    note(`added ${who}`)
  },
  async history(arg) {
    if (!current) return note('/join a conversation first')
    await history(current, Number(arg) || 20)
  },
  async list() {
    if (conversations.length === 0) return note('no conversations yet — /join <name> creates one')
    for (const c of conversations) {
      const unread = c.unreadMessageCount > 0 ? ` (${c.unreadMessageCount} unread)` : ''
      note(`${c.id === current?.sid ? '→ ' : ''}${nameOf(c)}${unread} — ${c.id}`)
    }
  },
  async who() {
    if (!current) return note('/join a conversation first')
    for (const p of await current.getParticipants()) {
      const user = p.identity ? await p.getUser().catch(() => null) : null
      const presence = user?.isOnline === true ? 'online' : user?.isOnline === false ? 'offline' : 'unknown'
      note(`${p.identity ?? p.address} (${p.role}, ${presence})`)
    }
  },
  async quit() {
    rl.close()
  },
}

// ------------------------------------------------------------------ input

async function handle(input: string): Promise<void> {
  const text = input.trim()
  if (!text || closing) return
  try {
    if (text.startsWith('/')) {
      const [command = '', ...rest] = text.slice(1).split(' ')
      const run = commands[command.toLowerCase()]
      if (!run) note(`unknown command /${command} — /help`)
      else await run(rest.join(' ').trim())
    } else if (!current) {
      note('/join a conversation first (it is created if it does not exist)')
    } else {
      await current.sendMessage(text)
    }
  } catch (error) {
    note(`error: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (tty) rl.prompt()
}

if (tty) {
  // Typing: renewals are rate limited by the client, so every keystroke may call it.
  process.stdin.on('keypress', () => {
    if (current && rl.line.length > 0 && !rl.line.startsWith('/')) current.typing().catch(() => {})
  })
}

let quitting = false
async function quit(): Promise<void> {
  if (quitting) return
  quitting = true
  // Whatever was typed before the end of the input runs first.
  await queue.catch(() => {})
  closing = true
  list.unsubscribe()
  for (const off of offCurrent) off()
  await client.shutdown()
  await storage.close()
  note('bye')
  process.exit(0)
}

note('type /help for commands')
const startIn = values.join
if (startIn) await handle(`/join ${startIn}`)
markReady()
if (tty) rl.prompt()
