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
 *
 * Everything printed goes through `Screen` (screen.ts), which shows control characters as escapes:
 * what other members write cannot drive the terminal.
 */
import { Client, type Conversation, type ConversationSnapshot, type Message } from '../../src/index.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { catchUp } from './catch-up.ts'
import { DevSignIn, type Kept } from './dev-sign-in.ts'
import { News } from './news.ts'
import { fail, HELP, readOptions } from './options.ts'
import { Screen } from './screen.ts'

const options = readOptions()
const { identity, dbPath } = options
const devSignIn = new DevSignIn({ url: options.devTokenUrl, identity, dbPath })

/** How long `--join` and `/join` wait for the relay's list before creating a conversation. */
const LIST_WAIT_MS = 5000

const screen = new Screen()
const print = (line: string): void => screen.print(line)
const note = (line: string): void => screen.note(line)

// Input is read from the start (piped input may arrive before the client is open); commands run
// in order once it is.
let markReady: () => void = () => {}
let queue: Promise<void> = new Promise<void>((resolve) => {
  markReady = resolve
})
let closing = false
screen.input.on('line', (input) => {
  queue = queue.then(() => handle(input))
})
screen.input.on('close', () => void quit())
// Ctrl-C at the prompt: readline reads it as a key, not a signal.
screen.input.on('SIGINT', () => screen.close())
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

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

// ------------------------------------------------------------------ the client

let kept: Kept | null = null
let relayUrl = options.relayUrl
if (!options.token) {
  kept = await devSignIn.signIn().catch((error: unknown) => {
    const cached = devSignIn.kept()
    if (!cached)
      fail(
        `cannot sign in through ${options.devTokenUrl} (${message(error)}); ` +
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
    return fail(message(error))
  }
})()

const client = await Client.create({
  relayUrl,
  storage,
  token: options.token
    ? options.token
    : async () => {
        // The first call gets the token signed above; later calls refresh it (or keep the old one offline).
        if (kept) {
          const first = kept.token
          kept = null
          return first
        }
        return (await devSignIn.signIn().catch(() => devSignIn.kept()))?.token ?? fail('no token')
      },
}).catch((error: unknown) => fail(message(error)))

note(`signed in as ${client.identity} — stored in ${dbPath}, relay ${relayUrl}`)
if (!options.token) note('DEVELOPMENT sign-in (no password): use real tokens from your backend in an app')

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
const news = new News({ client, note, current: () => current, nameOf })
// The list is complete once the relay's state has arrived (or at once, offline); lookups wait for it.
const listed = catchUp(client, { offlineIsFinal: true, signal: AbortSignal.timeout(LIST_WAIT_MS) })
// News waits for the relay however long it takes to come up, then at most a few seconds for its state.
void catchUp(client, { syncMs: 10_000 })
  .then(async (result) => {
    if (result === 'offline' || closing) return
    await news.start()
    if (result === 'caught-up')
      note(`up to date with the relay — ${plural((await known()).length, 'conversation', 'conversations')}: /list`)
  })
  // Only the client closing under it (quitting) stops this.
  .catch(() => {})

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

/** Every conversation this device knows, from the client itself (the live list above lags a microtask). */
const known = async (): Promise<Conversation[]> => {
  const all: Conversation[] = []
  for (let page = await client.getSubscribedConversations(); ; page = await page.nextPage()) {
    all.push(...page.items)
    if (!page.hasNextPage) return all
  }
}

const find = async (query: string): Promise<Conversation | null> => {
  await listed
  const q = query.toLowerCase()
  const all = await known()
  return (
    all.find((c) => c.sid === query) ??
    all.find((c) => c.friendlyName?.toLowerCase() === q) ??
    all.find((c) => c.uniqueName?.toLowerCase() === q) ??
    null
  )
}

const commands: Record<string, (arg: string) => Promise<void>> = {
  async help() {
    screen.printLines(HELP.slice(HELP.indexOf('Commands:')))
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
    screen.close()
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
    note(`error: ${message(error)}`)
  }
  screen.prompt()
}

if (screen.tty) {
  // Typing: renewals are rate limited by the client, so every keystroke may call it.
  process.stdin.on('keypress', () => {
    if (current && screen.typed.length > 0 && !screen.typed.startsWith('/')) current.typing().catch(() => {})
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
  news.stop()
  for (const off of offCurrent) off()
  await client.shutdown()
  await storage.close()
  note('bye')
  process.exit(0)
}

note('type /help for commands')
if (options.join) await handle(`/join ${options.join}`)
markReady()
screen.prompt()
