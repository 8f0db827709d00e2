/**
 * colloquy web chat — start here.
 *
 * 1. Sign in with a name (development sign-in: the example server signs a token for any name).
 * 2. `Client.create` opens everything this browser stored in IndexedDB, so the app works at once,
 *    offline too, and connects to the relay in the background.
 * 3. A service worker caches the app itself, so even a reload without network opens it.
 *
 * In your app: `import { Client } from 'colloquy'` and `import { createIndexedDbStorage } from
 * 'colloquy/storage/indexeddb'`. This example imports the sources directly.
 */
import { Client } from '../../../src/index.ts'
import { createIndexedDbStorage } from '../../../src/storage/indexeddb.ts'
import { ChatApp } from './app.ts'
import { h } from './dom.ts'
import {
  clearSession,
  loadSession,
  OfflineAwareWebSocket,
  requestDevToken,
  type Session,
  saveSession,
  tokenSource,
} from './session.ts'

const root = document.getElementById('app')!

let client: Client | null = null
let app: ChatApp | null = null

const start = async (session: Session): Promise<void> => {
  root.replaceChildren(h('div', { class: 'loading' }, 'Opening your conversations…'))
  // One set of databases per person, so two people sharing a browser never mix their data.
  const storage = createIndexedDbStorage({ prefix: `colloquy-web-chat:${session.identity}:` })
  const c = await Client.create({
    relayUrl: session.relayUrl,
    token: tokenSource(session.identity),
    storage,
    WebSocket: OfflineAwareWebSocket,
  })
  client = c
  c.on('error', (error) => console.warn('colloquy:', error))
  c.on('connectionError', ({ code, message }) => {
    console.warn(`colloquy: the relay closed the connection (${code} ${message})`)
    // 4401: the token is not valid here (say, the server's secret changed). Get a new one and reopen.
    if (code === 4401 && navigator.onLine) void restartWithFreshToken(session.identity)
  })
  app = new ChatApp(c, { onSignOut: () => void signOut() })
  root.replaceChildren(app.el)
}

const stop = async (): Promise<void> => {
  app?.destroy()
  app = null
  const c = client
  client = null
  await c?.shutdown()
}

const restartWithFreshToken = async (identity: string): Promise<void> => {
  try {
    const fresh = await requestDevToken(identity)
    saveSession(fresh)
    await stop()
    await start(fresh)
  } catch (error) {
    console.warn('colloquy: could not renew the sign-in', error)
  }
}

const signOut = async (): Promise<void> => {
  await stop()
  clearSession()
  location.hash = ''
  showLogin()
}

const showLogin = (): void => {
  const name = h('input', {
    'data-testid': 'login-name',
    placeholder: 'alice',
    autocomplete: 'username',
    required: true,
    maxlength: 32,
    'aria-label': 'Your name',
  })
  const error = h('p', { class: 'error', 'data-testid': 'login-error', role: 'alert' })
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-button' }, 'Sign in')
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: (event: SubmitEvent) => {
        event.preventDefault()
        button.disabled = true
        error.textContent = ''
        requestDevToken(name.value)
          .then(async (session) => {
            saveSession(session)
            await start(session)
          })
          .catch((e: unknown) => {
            error.textContent = navigator.onLine
              ? e instanceof Error
                ? e.message
                : String(e)
              : 'Signing in the first time needs a connection. After that the app works offline.'
            button.disabled = false
          })
      },
    },
    h('h1', {}, 'colloquy', h('span', {}, ' web chat')),
    h(
      'p',
      {},
      'Local-first conversations: everything you read and write is kept in this browser and synced through your own relay.',
    ),
    h('label', {}, 'Your name', name),
    button,
    error,
    h(
      'p',
      { class: 'dev-warning', 'data-testid': 'dev-warning' },
      h('strong', {}, 'Development sign-in. '),
      'There is no password: anyone who can open this page can sign in as anyone. A real app gets relay tokens from its own backend after its own login.',
    ),
  )
  root.replaceChildren(h('div', { class: 'login-screen' }, form))
  name.focus()
}

const registerServiceWorker = (): void => {
  if (!('serviceWorker' in navigator)) return
  navigator.serviceWorker
    .register('/sw.js')
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      document.documentElement.dataset.offlineReady = 'true'
    })
    .catch((error: unknown) => console.warn('service worker not installed:', error))
}

registerServiceWorker()
const session = loadSession()
if (session) {
  start(session).catch((error: unknown) => {
    console.error(error)
    root.replaceChildren(
      h(
        'div',
        { class: 'login-screen' },
        h(
          'div',
          { class: 'login' },
          h('h1', {}, 'Could not open the chat'),
          h('p', { class: 'error' }, error instanceof Error ? error.message : String(error)),
          h('button', { type: 'button', class: 'primary', onclick: () => void signOut() }, 'Sign in again'),
        ),
      ),
    )
  })
} else {
  showLogin()
}
