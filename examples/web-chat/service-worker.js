/**
 * The web chat's service worker: keeps the app shell (HTML, scripts, styles) in a cache so the
 * app opens — and shows the conversations and unsent messages it keeps in IndexedDB — even when
 * the page is reloaded without a network.
 *
 * The build (vite.config.ts) fills in the list of files and a version that changes with them.
 *
 * Strategy: page loads try the network first (so a running server always serves the newest app)
 * and fall back to the cached shell; hashed assets are served from the cache first. Nothing else
 * (token requests, the relay's WebSocket) goes through the cache.
 */
const APP_SHELL = '__APP_SHELL__'
const CACHE = 'colloquy-web-chat-__CACHE_VERSION__'

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(APP_SHELL))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((name) => name.startsWith('colloquy-web-chat-') && name !== CACHE).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || url.pathname.startsWith('/dev/')) return

  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone()
            void caches.open(CACHE).then((cache) => cache.put('/', copy))
          }
          return response
        })
        .catch(() => caches.match('/', { cacheName: CACHE }).then((cached) => cached ?? Response.error())),
    )
    return
  }

  if (APP_SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname, { cacheName: CACHE }).then((cached) => cached ?? fetch(request)))
  }
})
