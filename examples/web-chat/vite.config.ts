/**
 * How the web chat is built. `examples/server.ts` runs this build at start; `npx vite build
 * examples/web-chat` works too.
 *
 * The one custom step writes the service worker: it lists every file of the build, so the worker
 * can cache the whole app shell when it installs, and a reload while offline still opens the app.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { InlineConfig, Plugin } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

/** Emits `sw.js` from `service-worker.js`, with the build's file list and a version derived from it. */
export const serviceWorkerPlugin = (): Plugin => ({
  name: 'colloquy-web-chat-service-worker',
  apply: 'build',
  enforce: 'post',
  generateBundle(_options, bundle) {
    const files = Object.keys(bundle)
      .filter((name) => !name.endsWith('.map'))
      .sort()
    // Files of public/ are copied as they are, outside the bundle.
    const copied = readdirSync(here('./public'))
    const shell = ['/', ...[...files, ...copied].sort().map((name) => `/${name}`)]
    const version = createHash('sha256')
      .update(
        files
          .map((name) => {
            const item = bundle[name]!
            return item.type === 'chunk' ? item.code : String(item.source)
          })
          .join('\n'),
      )
      .digest('hex')
      .slice(0, 12)
    const template = readFileSync(here('./service-worker.js'), 'utf8')
    const source = template.replace("'__APP_SHELL__'", JSON.stringify(shell)).replace('__CACHE_VERSION__', version)
    this.emitFile({ type: 'asset', fileName: 'sw.js', source })
  },
})

/** The build configuration; `outDir` defaults to `examples/web-chat/dist`. */
export const webChatConfig = (outDir = here('./dist')): InlineConfig => ({
  configFile: false,
  root: here('.'),
  base: '/',
  logLevel: 'warn',
  clearScreen: false,
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
  },
  plugins: [serviceWorkerPlugin()],
})

export default webChatConfig()
