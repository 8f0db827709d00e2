/**
 * One open conversation: header with participants, the message list (older history on demand),
 * the typing indicator and the composer. Everything on screen comes from the live subscriptions
 * (`subscribe`, `subscribeMessages`, `subscribeParticipants`, `subscribeTyping`); every action is
 * a plain call on the conversation, which applies locally at once — online or not.
 */
import type {
  Client,
  ContentBlock,
  Conversation,
  ConversationSnapshot,
  FileBlock,
  ListSubscription,
  LiveSubscription,
  MessageSnapshot,
  ParticipantSnapshot,
  TypingSnapshot,
  User,
} from '../../../src/index.ts'
import { attempt, avatar, h, toast } from './dom.ts'
import { icon } from './icons.ts'
import { excerpt, type MessageActions, messageEl } from './messages.ts'

const PAGE = 30

/** "Alice is typing…", "Alice and Bob are typing…", "Several people are typing…". */
export const typingText = (typing: TypingSnapshot): string => {
  if (typing.many) return 'Several people are typing…'
  const [a, b] = typing.users
  if (typing.users.length === 0) return ''
  if (typing.users.length === 1) return `${a} is typing…`
  if (typing.users.length === 2) return `${a} and ${b} are typing…`
  return 'Several people are typing…'
}

export class ConversationView {
  readonly el: HTMLElement
  readonly #client: Client
  readonly #conversation: Conversation
  readonly #me: string
  readonly #onGone: () => void
  readonly #cleanups: Array<() => void> = []
  readonly #messagesSub: ListSubscription<MessageSnapshot>
  readonly #stateSub: LiveSubscription<ConversationSnapshot | null>
  readonly #rendered = new Map<string, { snap: MessageSnapshot; showAuthor: boolean; el: HTMLLIElement }>()
  /** Users whose presence is shown; null while loading. */
  readonly #users = new Map<string, User | null>()
  #participants: readonly ParticipantSnapshot[] = []
  #replyTo: MessageSnapshot | null = null
  #editing: MessageSnapshot | null = null
  #marking = false
  #keepFromBottom: number | null = null
  #lastNewest: string | null = null
  #destroyed = false

  // elements
  readonly #title = h('h2', { 'data-testid': 'conversation-title' })
  readonly #subtitle = h('div', { class: 'subtitle' })
  readonly #people = h('ul', { class: 'people', 'data-testid': 'participant-list' })
  readonly #addInput = h('input', {
    'data-testid': 'add-participant-input',
    placeholder: 'Add a person',
    autocomplete: 'off',
    'aria-label': 'Name of the person to add',
  })
  readonly #scroller = h('div', { class: 'scroller', 'data-testid': 'message-scroller' })
  readonly #older = h(
    'button',
    { type: 'button', class: 'older', 'data-testid': 'load-older', hidden: true },
    'Load older messages',
  )
  readonly #list = h('ul', { class: 'messages', 'data-testid': 'message-list', 'aria-live': 'polite' })
  readonly #empty = h('div', { class: 'empty-messages' }, 'No messages yet — say hello 👋')
  readonly #typing = h('div', { class: 'typing', 'data-testid': 'typing-indicator', 'aria-live': 'polite' })
  readonly #context = h('div', { class: 'composer-context', 'data-testid': 'composer-context', hidden: true })
  readonly #input = h('textarea', {
    'data-testid': 'composer-input',
    rows: 1,
    placeholder: 'Write a message',
    'aria-label': 'Message',
  })
  readonly #send = h('button', { type: 'submit', class: 'primary', 'data-testid': 'send-button' }, 'Send')
  readonly #attach: HTMLElement

  constructor(client: Client, conversation: Conversation, onGone: () => void) {
    this.#client = client
    this.#conversation = conversation
    this.#me = client.identity
    this.#onGone = onGone
    this.#attach = this.#attachPanel()

    const addForm = h(
      'form',
      {
        class: 'add-person',
        onsubmit: (event: SubmitEvent) => {
          event.preventDefault()
          this.#addPerson()
        },
      },
      this.#addInput,
      h('button', { type: 'submit', 'data-testid': 'add-participant-button' }, 'Add'),
    )
    const composer = h(
      'form',
      {
        class: 'composer',
        onsubmit: (event: SubmitEvent) => {
          event.preventDefault()
          this.#submit()
        },
      },
      h(
        'button',
        {
          type: 'button',
          class: 'icon',
          'data-testid': 'attach-button',
          title: 'Share a location or a file link',
          onclick: () => {
            this.#attach.hidden = !this.#attach.hidden
          },
        },
        icon('attach', 20),
      ),
      this.#input,
      this.#send,
    )
    this.#input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this.#submit()
      } else if (event.key === 'Escape') this.#clearContext()
    })
    this.#input.addEventListener('input', () => {
      this.#autosize()
      if (this.#input.value.trim() !== '' && !this.#editing) this.#conversation.typing().catch(() => {})
    })
    this.#older.addEventListener('click', () => this.#loadOlder())
    this.#scroller.append(this.#older, this.#empty, this.#list)

    this.el = h(
      'section',
      { class: 'conversation', 'data-testid': 'conversation-view', 'data-sid': conversation.sid },
      h(
        'header',
        { class: 'conversation-header' },
        h('a', { class: 'back', href: '#/', title: 'All conversations' }, '‹'),
        h('div', { class: 'titles' }, this.#title, this.#subtitle),
        this.#people,
        addForm,
      ),
      this.#scroller,
      h('footer', { class: 'composer-area' }, this.#typing, this.#context, this.#attach, composer),
    )

    this.#stateSub = conversation.subscribe((snap) => this.#renderState(snap))
    this.#messagesSub = conversation.subscribeMessages((items, loadedAll) => this.#renderMessages(items, loadedAll), {
      limit: PAGE,
    })
    const participants = conversation.subscribeParticipants((items) => this.#renderPeople(items), { limit: 50 })
    const typing = conversation.subscribeTyping((t) => {
      const text = typingText(t)
      this.#typing.textContent = text
      this.#typing.classList.toggle('active', text !== '')
    })
    const onVisible = (): void => this.#markRead()
    document.addEventListener('visibilitychange', onVisible)
    this.#cleanups.push(
      () => this.#stateSub.unsubscribe(),
      () => this.#messagesSub.unsubscribe(),
      () => participants.unsubscribe(),
      () => typing.unsubscribe(),
      () => document.removeEventListener('visibilitychange', onVisible),
      client.on('connectionStateChanged', () => this.#renderPeople(this.#participants)),
    )
  }

  focus(): void {
    this.#input.focus()
  }

  destroy(): void {
    this.#destroyed = true
    for (const cleanup of this.#cleanups.splice(0)) cleanup()
    this.el.remove()
  }

  // ------------------------------------------------------------ rendering

  #renderState(snap: ConversationSnapshot | null): void {
    if (!snap) {
      this.#onGone()
      return
    }
    this.#title.textContent = snap.friendlyName ?? 'Untitled conversation'
    this.#markRead()
  }

  /** Everything shown is read while the page is visible. */
  #markRead(): void {
    const snap = this.#stateSub?.latestSnapshot
    if (this.#destroyed || this.#marking || !snap || snap.status !== 'joined') return
    if (snap.unreadMessageCount === 0 || document.visibilityState !== 'visible') return
    this.#marking = true
    this.#conversation
      .setAllMessagesRead()
      .catch(() => {})
      .finally(() => {
        this.#marking = false
        // Messages may have arrived meanwhile.
        queueMicrotask(() => this.#markRead())
      })
  }

  #renderPeople(items: readonly ParticipantSnapshot[]): void {
    this.#participants = items
    const chats = items.filter((p) => p.type === 'chat' && p.identity !== null)
    const names = chats
      .map((p) => p.identity!)
      .sort((a, b) => (a === this.#me ? -1 : b === this.#me ? 1 : a < b ? -1 : 1))
    this.#subtitle.textContent = `${names.length} ${names.length === 1 ? 'person' : 'people'}`
    this.#people.replaceChildren(
      ...names.map((name) => {
        const presence = name === this.#me ? this.#meOnline() : this.#presence(name)
        return h(
          'li',
          {
            'data-testid': 'participant',
            'data-identity': name,
            'data-presence': presence,
            title: `${name}${name === this.#me ? ' (you)' : ''} — ${presence}`,
          },
          avatar(name, 'tiny'),
          h('span', { class: `presence ${presence}` }),
          name === this.#me ? 'you' : name,
        )
      }),
    )
  }

  #meOnline(): string {
    return this.#client.connectionState === 'connected' ? 'online' : 'unknown'
  }

  /** online / offline / unknown (while I am not connected myself). */
  #presence(identity: string): string {
    const user = this.#users.get(identity)
    if (user === null) return 'unknown'
    if (user === undefined) {
      // Keep the user's profile and presence live while this conversation is open.
      this.#users.set(identity, null)
      this.#client
        .getUser(identity)
        .then((u) => {
          if (this.#destroyed) return
          this.#users.set(identity, u)
          this.#cleanups.push(
            u.on('updated', ({ updateReasons }) => {
              if (updateReasons.includes('reachabilityOnline')) this.#renderPeople(this.#participants)
            }),
          )
          this.#renderPeople(this.#participants)
        })
        .catch(() => this.#users.delete(identity))
      return 'unknown'
    }
    const online = user.isOnline
    return online === null ? 'unknown' : online ? 'online' : 'offline'
  }

  #renderMessages(newestFirst: readonly MessageSnapshot[], loadedAll: boolean): void {
    const s = this.#scroller
    const fromBottom = s.scrollHeight - s.scrollTop - s.clientHeight
    const items = [...newestFirst].reverse()
    const newest = items[items.length - 1]
    const mineNew = newest !== undefined && newest.id !== this.#lastNewest && newest.author === this.#me
    this.#lastNewest = newest?.id ?? null

    const seen = new Set<string>()
    const els: HTMLLIElement[] = []
    let prev: MessageSnapshot | undefined
    for (const m of items) {
      const showAuthor = prev === undefined || prev.author !== m.author || m.createdAt - prev.createdAt > 5 * 60_000
      const cached = this.#rendered.get(m.id)
      let el: HTMLLIElement
      if (cached && cached.snap === m && cached.showAuthor === showAuthor) el = cached.el
      else {
        el = messageEl(m, { me: this.#me, showAuthor, actions: this.#actions })
        this.#rendered.set(m.id, { snap: m, showAuthor, el })
      }
      seen.add(m.id)
      els.push(el)
      prev = m
    }
    for (const id of this.#rendered.keys()) if (!seen.has(id)) this.#rendered.delete(id)
    this.#list.replaceChildren(...els)
    this.#older.hidden = loadedAll
    this.#empty.hidden = items.length > 0

    if (this.#keepFromBottom !== null) {
      s.scrollTop = s.scrollHeight - this.#keepFromBottom
      this.#keepFromBottom = null
    } else if (fromBottom < 80 || mineNew) {
      s.scrollTop = s.scrollHeight
    }
  }

  // ------------------------------------------------------------ actions

  readonly #actions: MessageActions = {
    reply: (m) => {
      this.#editing = null
      this.#replyTo = m
      this.#showContext(`Replying to ${m.author === this.#me ? 'yourself' : m.author}`, excerpt(m))
      this.#input.focus()
    },
    edit: (m) => {
      this.#replyTo = null
      this.#editing = m
      this.#input.value = m.plaintext ?? ''
      this.#autosize()
      this.#send.textContent = 'Save'
      this.#showContext('Editing your message', excerpt(m))
      this.#input.focus()
    },
    remove: (m) =>
      attempt(async () => {
        const message = await this.#conversation.getMessageBySid(m.id)
        await message.remove()
      }),
    toggleReaction: (m, emoji, mine) =>
      attempt(async () => {
        const message = await this.#conversation.getMessageBySid(m.id)
        await (mine ? message.unreact(emoji) : message.react(emoji))
      }),
    jumpTo: (id) => {
      const target = this.#rendered.get(id)?.el
      if (!target) {
        toast('That message is further back — load older messages to see it', 'info')
        return
      }
      target.scrollIntoView({ block: 'center', behavior: 'smooth' })
      target.classList.add('flash')
      setTimeout(() => target.classList.remove('flash'), 1200)
    },
  }

  #loadOlder(): void {
    if (this.#messagesSub.loadedAll) return
    const s = this.#scroller
    this.#keepFromBottom = s.scrollHeight - s.scrollTop
    attempt(() => this.#messagesSub.loadMore(PAGE))
  }

  #addPerson(): void {
    const name = this.#addInput.value.trim().toLowerCase()
    if (!name) return
    attempt(async () => {
      await this.#conversation.add(name)
      this.#addInput.value = ''
      toast(`Added ${name}`, 'info')
    })
  }

  #submit(): void {
    const text = this.#input.value.trim()
    if (text === '') return
    const editing = this.#editing
    const replyTo = this.#replyTo
    this.#input.value = ''
    this.#autosize()
    this.#clearContext()
    attempt(async () => {
      try {
        if (editing) {
          const message = await this.#conversation.getMessageBySid(editing.id)
          await message.updateBody(text)
        } else {
          await this.#conversation.sendMessage({ body: text, referencedMessage: replyTo?.id })
        }
      } catch (error) {
        if (this.#input.value === '') this.#input.value = text
        throw error
      }
    })
    this.#input.focus()
  }

  #sendContent(content: ContentBlock[]): void {
    const caption = this.#input.value.trim()
    const blocks: ContentBlock[] = caption ? [{ type: 'text', text: caption }, ...content] : content
    const replyTo = this.#replyTo
    attempt(async () => {
      await this.#conversation.sendMessage({ content: blocks, referencedMessage: replyTo?.id })
      this.#input.value = ''
      this.#autosize()
      this.#clearContext()
      this.#attach.hidden = true
    })
  }

  #showContext(label: string, detail: string): void {
    this.#context.replaceChildren(
      h('span', { class: 'context-label' }, label),
      h('span', { class: 'context-detail' }, detail),
      h(
        'button',
        {
          type: 'button',
          class: 'icon',
          title: 'Cancel',
          'data-testid': 'cancel-context',
          onclick: () => this.#clearContext(),
        },
        icon('close', 16),
      ),
    )
    this.#context.hidden = false
  }

  #clearContext(): void {
    if (this.#editing) this.#input.value = ''
    this.#editing = null
    this.#replyTo = null
    this.#send.textContent = 'Send'
    this.#context.hidden = true
  }

  #autosize(): void {
    this.#input.style.height = 'auto'
    this.#input.style.height = `${Math.min(this.#input.scrollHeight, 160)}px`
  }

  /** Location and file-reference messages: colloquy stores the reference, never the file. */
  #attachPanel(): HTMLElement {
    const lat = h('input', {
      type: 'number',
      step: 'any',
      min: -90,
      max: 90,
      placeholder: 'Latitude',
      'data-testid': 'location-lat',
    })
    const lon = h('input', {
      type: 'number',
      step: 'any',
      min: -180,
      max: 180,
      placeholder: 'Longitude',
      'data-testid': 'location-lon',
    })
    const label = h('input', { placeholder: 'Label (optional)', 'data-testid': 'location-label' })
    const here = h(
      'button',
      {
        type: 'button',
        onclick: () => {
          if (!navigator.geolocation) {
            toast('This browser cannot tell its location')
            return
          }
          navigator.geolocation.getCurrentPosition(
            (pos) => {
              lat.value = pos.coords.latitude.toFixed(6)
              lon.value = pos.coords.longitude.toFixed(6)
            },
            (error) => toast(error.message),
          )
        },
      },
      'Use my location',
    )
    const sendLocation = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'send-location',
        onclick: () => {
          if (lat.value === '' || lon.value === '') {
            toast('Enter a latitude and a longitude')
            return
          }
          this.#sendContent([
            {
              type: 'location',
              latitude: Number(lat.value),
              longitude: Number(lon.value),
              ...(label.value.trim() ? { label: label.value.trim() } : {}),
            },
          ])
        },
      },
      'Share location',
    )

    const url = h('input', { type: 'url', placeholder: 'https://…/file.pdf', 'data-testid': 'file-url' })
    const name = h('input', { placeholder: 'File name (optional)', 'data-testid': 'file-name' })
    const kind = h(
      'select',
      { 'data-testid': 'file-kind', 'aria-label': 'Kind of file' },
      ...(['file', 'image', 'video', 'audio', 'voice'] as const).map((k) => h('option', { value: k }, k)),
    )
    const size = h('input', { type: 'number', min: 0, placeholder: 'Size in bytes', 'data-testid': 'file-size' })
    const sendFile = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-testid': 'send-file',
        onclick: () => {
          const href = url.value.trim()
          if (!/^https?:\/\//.test(href)) {
            toast('Enter an http(s) link to the file')
            return
          }
          const filename = name.value.trim() || decodeURIComponent(href.split(/[?#]/)[0]!.split('/').pop() || 'file')
          const block: FileBlock = {
            type: 'file',
            subtype: kind.value as FileBlock['subtype'],
            url: href,
            filename,
            contentType: guessType(filename, kind.value),
            size: Number(size.value) || 0,
          }
          this.#sendContent([block])
        },
      },
      'Share file link',
    )
    return h(
      'div',
      { class: 'attach-panel', 'data-testid': 'attach-panel', hidden: true },
      h('fieldset', {}, h('legend', {}, '📍 Location'), lat, lon, label, here, sendLocation),
      h('fieldset', {}, h('legend', {}, '📎 File link'), url, name, kind, size, sendFile),
      h('p', { class: 'hint' }, 'Text in the message box is sent along as a caption.'),
    )
  }
}

const TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  txt: 'text/plain',
  zip: 'application/zip',
}

const guessType = (filename: string, kind: string): string => {
  const ext = filename.split('.').pop()?.toLowerCase() ?? ''
  return TYPES[ext] ?? (kind === 'file' ? 'application/octet-stream' : `${kind === 'voice' ? 'audio' : kind}/*`)
}
