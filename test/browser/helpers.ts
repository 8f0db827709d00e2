/**
 * Helpers for the browser suites: Chromium (Debian's, else the npm-bundled one: see chromium.ts)
 * driven by playwright-core, one fresh context per user, waits with deadlines, screenshots of failures.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core'
import { chooseChromium } from './chromium.ts'

/** Where failure screenshots go (gitignored). */
export const RESULTS = join(process.cwd(), 'test-results')

/** Deadline of every DOM wait. */
export const WAIT_MS = 10_000

export const launchChromium = async (): Promise<Browser> => {
  const choice = await chooseChromium()
  return chromium.launch({
    executablePath: choice.executablePath,
    env: { ...process.env, ...choice.env },
    headless: true,
    // Without the background-networking flags Chromium floods the closed network with refused connections.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** One person in their own browser context (own IndexedDB, service worker, cookies). */
export interface ChatUser {
  name: string
  context: BrowserContext
  page: Page
  /** Browser console errors and page errors seen so far. */
  errors: string[]
}

/** Tracks the users a test opens, to screenshot them when it fails and to close them after. */
export class Users {
  readonly #browser: Browser
  readonly #url: string
  readonly list: ChatUser[] = []

  constructor(browser: Browser, url: string) {
    this.#browser = browser
    this.#url = url
  }

  /** Opens the web chat in a fresh context and signs in as `name`; resolves once online. */
  async signIn(name: string): Promise<ChatUser> {
    const context = await this.#browser.newContext({ viewport: { width: 1180, height: 760 } })
    context.setDefaultTimeout(WAIT_MS)
    const page = await context.newPage()
    const user: ChatUser = { name, context, page, errors: [] }
    page.on('pageerror', (error) => user.errors.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') user.errors.push(`console: ${message.text()}`)
    })
    this.list.push(user)
    await page.goto(this.#url)
    await page.getByTestId('login-name').fill(name)
    await page.getByTestId('login-button').click()
    await waitOnline(page)
    return user
  }

  async screenshot(prefix: string): Promise<void> {
    mkdirSync(RESULTS, { recursive: true })
    for (const user of this.list) {
      const path = join(RESULTS, `${prefix}-${user.name}.png`)
      await user.page.screenshot({ path, fullPage: true }).catch(() => {})
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.list.splice(0).map((u) => u.context.close().catch(() => {})))
  }
}

/** A file-name-safe version of a test name. */
export const slug = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60)

export const connectionStatus = (page: Page): Locator => page.getByTestId('connection-status')

export const waitOnline = (page: Page): Promise<void> =>
  connectionStatus(page).and(page.locator('[data-state="online"]')).waitFor({ timeout: WAIT_MS })

export const waitOffline = (page: Page): Promise<void> =>
  connectionStatus(page).and(page.locator('[data-state="offline"]')).waitFor({ timeout: WAIT_MS })

/** Creates a conversation and waits until it is open. */
export const createConversation = async (page: Page, name: string): Promise<void> => {
  await page.getByTestId('new-conversation-input').fill(name)
  await page.getByTestId('new-conversation-button').click()
  await page.getByTestId('conversation-title').filter({ hasText: name }).waitFor({ timeout: WAIT_MS })
}

export const addParticipant = async (page: Page, identity: string): Promise<void> => {
  await page.getByTestId('add-participant-input').fill(identity)
  await page.getByTestId('add-participant-button').click()
  await page.locator(`[data-testid="participant"][data-identity="${identity}"]`).waitFor({ timeout: WAIT_MS })
}

export const conversationItem = (page: Page, name: string): Locator =>
  page.locator(`[data-testid="conversation-item"][data-name="${name}"]`)

/** Waits for a conversation to appear in the list, then opens it. */
export const openConversation = async (page: Page, name: string): Promise<void> => {
  const item = conversationItem(page, name)
  await item.waitFor({ timeout: WAIT_MS })
  await item.locator('a').click()
  await page.getByTestId('conversation-title').filter({ hasText: name }).waitFor({ timeout: WAIT_MS })
}

export const send = async (page: Page, text: string): Promise<void> => {
  await page.getByTestId('composer-input').fill(text)
  await page.getByTestId('composer-input').press('Enter')
  await message(page, text).waitFor({ timeout: WAIT_MS })
}

/** The message whose body is exactly `text`. */
export const message = (page: Page, text: string): Locator =>
  page.getByTestId('message').filter({
    has: page.getByTestId('message-body').getByText(text, { exact: true }),
  })

/** The bodies of the messages on screen, oldest first. */
export const messageTexts = (page: Page): Promise<string[]> =>
  page.locator('[data-testid="message"] [data-testid="message-body"]').allInnerTexts()

/** Waits until `message(text)` has `data-status` = `status`. */
export const waitStatus = (page: Page, text: string, status: 'pending' | 'sent' | 'read'): Promise<void> =>
  message(page, text)
    .and(page.locator(`[data-status="${status}"]`))
    .waitFor({ timeout: WAIT_MS })

/** Polls `read` until `check` holds; rejects after the deadline with the last value. */
export const waitUntil = async <T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  what: string,
  ms = WAIT_MS,
): Promise<T> => {
  const deadline = Date.now() + ms
  let last: T | undefined
  for (;;) {
    last = await read()
    if (check(last)) return last
    if (Date.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last value: ${JSON.stringify(last)}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
