/**
 * The signed-in screen: header with the connection state, the conversation list (most recently
 * active first, unread counts, last message) and the open conversation. The URL hash
 * (`#/c/<sid>`) says which conversation is open, so a reload — even offline — comes back to it.
 */
import type { Client, ConnectionState, ConversationListSubscription, ConversationSnapshot } from '../../../src/index.ts'
import { ConversationView } from './conversation-view.ts'
import { attempt, avatar, h, shortTime } from './dom.ts'
import { excerpt } from './messages.ts'

const CONNECTION_TEXT: Record<ConnectionState, string> = {
  connected: 'Online',
  connecting: 'Connecting…',
  disconnecting: 'Offline',
  disconnected: 'Offline',
  denied: 'Not allowed',
}

export class ChatApp {
  readonly el: HTMLElement
  readonly #client: Client
  readonly #cleanups: Array<() => void> = []
  readonly #listSub: ConversationListSubscription
  #view: ConversationView | null = null
  #openSid: string | null = null
  #everConnected = false
  /** How many times the client connected (shown as `data-connects`, for tests and the curious). */
  #connects = 0

  readonly #status = h('span', { class: 'connection', 'data-testid': 'connection-status', role: 'status' })
  readonly #banner = h('div', { class: 'banner', 'data-testid': 'offline-banner', hidden: true })
  readonly #list = h('ul', { class: 'conversations', 'data-testid': 'conversation-list' })
  readonly #more = h('button', { type: 'button', class: 'more', hidden: true }, 'More conversations')
  readonly #main = h('main', { class: 'main' })
  readonly #newName = h('input', {
    'data-testid': 'new-conversation-input',
    placeholder: 'New conversation',
    autocomplete: 'off',
    'aria-label': 'Name of the new conversation',
  })

  constructor(client: Client, options: { onSignOut: () => void }) {
    this.#client = client
    const me = client.identity
    this.el = h(
      'div',
      { class: 'app', 'data-testid': 'chat-app', 'data-identity': me },
      h(
        'header',
        { class: 'topbar' },
        h('span', { class: 'brand' }, 'colloquy'),
        h(
          'span',
          {
            class: 'dev-badge',
            'data-testid': 'dev-badge',
            title: 'Development sign-in: no passwords. Never deploy this.',
          },
          'DEV',
        ),
        this.#status,
        h('span', { class: 'spacer' }),
        h('span', { class: 'me', 'data-testid': 'signed-in-as' }, avatar(me, 'tiny'), me),
        h(
          'button',
          { type: 'button', class: 'link', 'data-testid': 'sign-out', onclick: options.onSignOut },
          'Sign out',
        ),
      ),
      this.#banner,
      h(
        'div',
        { class: 'layout' },
        h(
          'aside',
          { class: 'sidebar' },
          h(
            'form',
            {
              class: 'new-conversation',
              onsubmit: (event: SubmitEvent) => {
                event.preventDefault()
                this.#create()
              },
            },
            this.#newName,
            h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-conversation-button' }, 'Create'),
          ),
          this.#list,
          this.#more,
        ),
        this.#main,
      ),
    )
    this.#more.addEventListener('click', () => attempt(() => this.#listSub.loadMore()))

    this.#renderConnection(client.connectionState)
    this.#cleanups.push(client.on('connectionStateChanged', (state) => this.#renderConnection(state)))
    this.#listSub = client.subscribeConversations((items, loadedAll) => this.#renderList(items, loadedAll), {
      limit: 30,
    })
    this.#cleanups.push(() => this.#listSub.unsubscribe())
    const onHash = (): void => this.#route()
    window.addEventListener('hashchange', onHash)
    this.#cleanups.push(() => window.removeEventListener('hashchange', onHash))
    this.#route()
  }

  destroy(): void {
    for (const cleanup of this.#cleanups.splice(0)) cleanup()
    this.#view?.destroy()
    this.#view = null
    this.el.remove()
  }

  #renderConnection(state: ConnectionState): void {
    if (state === 'connected') {
      this.#everConnected = true
      this.#connects++
    }
    const online = state === 'connected'
    const shown = state === 'connecting' && this.#everConnected ? 'Reconnecting…' : CONNECTION_TEXT[state]
    this.#status.textContent = shown
    this.#status.dataset.state = online ? 'online' : state === 'denied' ? 'denied' : 'offline'
    this.#status.dataset.connection = state
    this.#status.dataset.connects = String(this.#connects)
    this.#banner.hidden = online
    this.#banner.dataset.state = this.#status.dataset.state
    this.#banner.textContent =
      state === 'denied'
        ? 'The relay refused this sign-in. Sign out and in again.'
        : this.#everConnected || !navigator.onLine
          ? 'You are offline. Keep reading and writing: messages are kept on this device and sent when the connection returns.'
          : 'Connecting to the relay… Everything stored on this device is already here.'
  }

  #renderList(items: readonly ConversationSnapshot[], loadedAll: boolean): void {
    const me = this.#client.identity
    this.#more.hidden = loadedAll
    if (items.length === 0) {
      this.#list.replaceChildren(
        h('li', { class: 'empty' }, 'No conversations yet. Create one, then add people by name.'),
      )
    } else {
      this.#list.replaceChildren(
        ...items.map((c) => {
          const name = c.friendlyName ?? 'Untitled conversation'
          const last = c.lastMessage
          const preview = last ? `${last.author === me ? 'You' : last.author}: ${excerpt(last)}` : 'No messages yet'
          return h(
            'li',
            {
              'data-testid': 'conversation-item',
              'data-sid': c.id,
              'data-name': name,
              'data-unread': c.unreadMessageCount,
              class: c.id === this.#openSid ? 'selected' : null,
            },
            h(
              'a',
              {
                href: `#/c/${c.id}`,
                class: 'conversation-link',
                'aria-current': c.id === this.#openSid ? 'page' : null,
              },
              avatar(name),
              h(
                'span',
                { class: 'conversation-text' },
                h(
                  'span',
                  { class: 'row' },
                  h('span', { class: 'name' }, name),
                  h('time', { class: 'when' }, shortTime(c.lastActivityAt)),
                ),
                h(
                  'span',
                  { class: 'row' },
                  h('span', { class: 'preview', 'data-testid': 'conversation-preview' }, preview),
                  c.unreadMessageCount > 0 &&
                    h(
                      'span',
                      {
                        class: 'badge',
                        'data-testid': 'unread-count',
                        'aria-label': `${c.unreadMessageCount} unread`,
                      },
                      String(c.unreadMessageCount),
                    ),
                ),
              ),
            ),
          )
        }),
      )
    }
    const unread = items.reduce((n, c) => n + c.unreadMessageCount, 0)
    document.title = unread > 0 ? `(${unread}) colloquy chat` : 'colloquy chat'
    // A conversation named in the URL that had not arrived yet (added while this page was open).
    if (this.#openSid !== null && !this.#view && items.some((c) => c.id === this.#openSid)) this.#route()
  }

  #route(): void {
    const match = /^#\/c\/(.+)$/.exec(location.hash)
    const sid = match ? decodeURIComponent(match[1]!) : null
    if (sid === this.#openSid && (this.#view || sid === null)) return
    this.#view?.destroy()
    this.#view = null
    this.#openSid = sid
    for (const li of this.#list.querySelectorAll<HTMLElement>('[data-testid="conversation-item"]'))
      li.classList.toggle('selected', li.dataset.sid === sid)
    this.el.classList.toggle('has-conversation', sid !== null)
    if (sid === null) {
      this.#main.replaceChildren(
        h(
          'div',
          { class: 'placeholder' },
          h('h2', {}, 'Pick a conversation'),
          h('p', {}, 'or create one on the left and add people by name.'),
          h(
            'p',
            { class: 'hint' },
            'Everything is kept on this device: the app opens and sends even without a network.',
          ),
        ),
      )
      return
    }
    this.#client
      .getConversationBySid(sid)
      .then((conversation) => {
        if (this.#openSid !== sid || this.#view) return
        this.#view = new ConversationView(this.#client, conversation, () => {
          if (location.hash === `#/c/${sid}`) location.hash = '#/'
        })
        this.#main.replaceChildren(this.#view.el)
        this.#view.focus()
      })
      .catch(() => {
        if (this.#openSid !== sid) return
        this.#main.replaceChildren(
          h('div', { class: 'placeholder' }, h('h2', {}, 'Waiting for this conversation…'), h('p', {}, sid)),
        )
      })
  }

  #create(): void {
    const name = this.#newName.value.trim()
    if (!name) return
    attempt(async () => {
      const conversation = await this.#client.createConversation({ friendlyName: name, join: true })
      this.#newName.value = ''
      location.hash = `#/c/${conversation.sid}`
    })
  }
}
