/**
 * News from the conversations that are not open. One line per conversation and burst: a sync that
 * brings fifty messages at once prints one line, not fifty. Only what lies past my read horizon
 * counts (what I read on another device is not news), judged when the burst is printed, after the
 * sync that carried the messages also carried my horizon. Until the first catch-up with the relay
 * nothing is announced; what was waiting then is summed up once, as unread counts.
 */
import type { Client, Conversation, Message } from '../../src/index.ts'

export interface NewsOptions {
  client: Client
  note: (line: string) => void
  /** The conversation on screen: its messages are printed, not announced. */
  current: () => Conversation | null
  nameOf: (c: Conversation) => string
}

const listed = (names: string[]): string =>
  names.length <= 2 ? names.join(' and ') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`

export class News {
  readonly #options: NewsOptions
  readonly #batch = new Map<Conversation, Message[]>()
  #flushing: NodeJS.Immediate | null = null
  #live = false
  readonly #off: () => void

  constructor(options: NewsOptions) {
    this.#options = options
    this.#off = options.client.on('messageAdded', (m) => this.#added(m))
  }

  /** The first catch-up is done: sums up what is unread, then announces what arrives. */
  async start(): Promise<void> {
    const { client, note, nameOf } = this.#options
    const sub = client.subscribeConversations(() => {}, { limit: 30 })
    await sub.connected
    const list = sub.latestSnapshot ?? []
    sub.unsubscribe()
    for (const c of list) {
      if (c.unreadMessageCount === 0 || c.id === this.#options.current()?.sid) continue
      const conversation = await client.getConversationBySid(c.id).catch(() => null)
      const name = conversation ? nameOf(conversation) : c.id
      note(`${c.unreadMessageCount} unread in "${name}" — /join ${name}`)
    }
    this.#live = true
  }

  stop(): void {
    this.#off()
    if (this.#flushing) clearImmediate(this.#flushing)
    this.#batch.clear()
  }

  #added(m: Message): void {
    if (!this.#live || m.author === this.#options.client.identity) return
    const list = this.#batch.get(m.conversation)
    if (list) list.push(m)
    else this.#batch.set(m.conversation, [m])
    this.#flushing ??= setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushing = null
    const { note, nameOf, current } = this.#options
    for (const [conversation, messages] of this.#batch) {
      if (conversation === current()) continue
      const horizon = conversation.lastReadMessageIndex
      const fresh = messages.filter(
        (m) => !m.isRemoved && !m.isHidden && (m.index === null || horizon === null || m.index > horizon),
      )
      if (fresh.length === 0) continue
      const name = nameOf(conversation)
      const authors = listed([...new Set(fresh.map((m) => m.author))])
      const what = fresh.length === 1 ? 'new message' : `${fresh.length} new messages`
      note(`${what} in "${name}" from ${authors} — /join ${name}`)
    }
    this.#batch.clear()
  }
}
