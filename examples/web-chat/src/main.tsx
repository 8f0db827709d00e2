/**
 * colloquy web chat — start here.
 *
 * 1. Sign in with a name (development sign-in: the example server signs a token for any name).
 * 2. `<ColloquyProvider options={…}>` runs `Client.create`, which opens everything this browser
 *    stored in IndexedDB, so the app works at once, offline too, and connects to the relay in the
 *    background. The screens read it through the hooks of `colloquy/react`.
 * 3. A service worker caches the app itself, so even a reload without network opens it.
 *
 * In your app: `import { ColloquyProvider } from 'colloquy/react'` and `import {
 * createIndexedDbStorage } from 'colloquy/storage/indexeddb'`. This example imports the sources.
 */
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { Root } from './root.tsx'

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
createRoot(document.getElementById('app')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
)
