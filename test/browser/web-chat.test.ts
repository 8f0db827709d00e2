/**
 * The web chat example in real Chromium, against the example server (relay + built app) started
 * here on free ports with a temporary store. Every user gets a fresh browser context: their own
 * IndexedDB, service worker and network switch.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type ExampleServer, startExampleServer } from '../../examples/server.ts'
import {
  addParticipant,
  connectionStatus,
  conversationItem,
  createConversation,
  launchChromium,
  message,
  messageTexts,
  openConversation,
  send,
  slug,
  Users,
  WAIT_MS,
  waitOffline,
  waitOnline,
  waitStatus,
  waitUntil,
} from './helpers.ts'

const skip = process.env.COLLOQUY_SKIP_BROWSER === '1'

describe.skipIf(skip)('web chat in Chromium', () => {
  let dir: string
  let server: ExampleServer
  let browser: Browser
  let users: Users

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'colloquy-web-chat-'))
    ;[server, browser] = await Promise.all([
      startExampleServer({
        port: 0,
        relayPort: 0,
        dbPath: join(dir, 'relay.sqlite'),
        outDir: join(dir, 'dist'),
        secret: 'browser-test-secret-0123456789abcdef-0123',
      }),
      launchChromium(),
    ])
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    users = new Users(browser, server.url)
  })

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') {
      await users.screenshot(`failed-${slug(context.task.name)}`)
      for (const user of users.list) if (user.errors.length) console.error(`${user.name}:`, user.errors.join('\n'))
    }
    await users.close()
  })

  it('two people chat: create, add, both ways, typing, read marks, reply and reactions', async () => {
    const alice = await users.signIn('alice')
    const bob = await users.signIn('bob')

    await createConversation(alice.page, 'Weekend plans')
    await addParticipant(alice.page, 'bob')
    await send(alice.page, 'Hi Bob! Hiking on Saturday?')

    // Bob's list shows the conversation with its last message and one unread.
    const item = conversationItem(bob.page, 'Weekend plans')
    await item.getByTestId('unread-count').filter({ hasText: /^1$/ }).waitFor({ timeout: WAIT_MS })
    await expect(item.getByTestId('conversation-preview').innerText()).resolves.toBe(
      'alice: Hi Bob! Hiking on Saturday?',
    )
    await openConversation(bob.page, 'Weekend plans')
    await message(bob.page, 'Hi Bob! Hiking on Saturday?').waitFor({ timeout: WAIT_MS })
    await item.getByTestId('unread-count').waitFor({ state: 'detached', timeout: WAIT_MS })
    // What was unread when Bob opened it sits under a "New messages" divider, below today's date.
    const rows = bob.page.locator('[data-testid="message-list"] > li')
    await expect(rows.evaluateAll((els) => els.map((el) => el.getAttribute('data-testid')))).resolves.toEqual([
      'date-separator',
      'unread-divider',
      'message',
    ])
    await expect(bob.page.getByTestId('date-separator').innerText()).resolves.toBe('Today')
    // Bob has it open: Alice sees it read.
    await waitStatus(alice.page, 'Hi Bob! Hiking on Saturday?', 'read')

    // Typing shows on the other side, and clears when the message arrives.
    await bob.page.getByTestId('composer-input').fill('Sure')
    const typing = alice.page.getByTestId('typing-indicator')
    await typing.filter({ hasText: 'bob is typing…' }).waitFor({ timeout: WAIT_MS })
    await bob.page.getByTestId('composer-input').fill('Sure, 9:00 at the station?')
    await bob.page.getByTestId('composer-input').press('Enter')
    await message(alice.page, 'Sure, 9:00 at the station?').waitFor({ timeout: WAIT_MS })
    await waitUntil(
      () => typing.innerText(),
      (text) => text.trim() === '',
      'the typing indicator to clear',
    )
    await waitStatus(bob.page, 'Sure, 9:00 at the station?', 'read')

    // A reply and a reaction travel too.
    const bobs = message(alice.page, 'Sure, 9:00 at the station?')
    await bobs.hover()
    await bobs.getByTestId('reply-button').click()
    await alice.page.getByTestId('composer-context').waitFor({ timeout: WAIT_MS })
    await alice.page.getByTestId('composer-input').fill('Perfect, see you there')
    await alice.page.getByTestId('composer-input').press('Enter')
    const reply = message(bob.page, 'Perfect, see you there')
    await reply
      .getByTestId('reply-quote')
      .filter({ hasText: 'Sure, 9:00 at the station?' })
      .waitFor({ timeout: WAIT_MS })

    await reply.hover()
    await reply.getByTestId('react-button').click()
    await reply.locator('[data-testid="react-option"][data-emoji="👍"]').click()
    await message(alice.page, 'Perfect, see you there')
      .locator('[data-testid="reaction"][data-emoji="👍"]')
      .filter({ hasText: '1' })
      .waitFor({ timeout: WAIT_MS })

    // Everything Alice sent was read by Bob; the order is the same on both sides.
    await waitStatus(alice.page, 'Perfect, see you there', 'read')
    const expected = ['Hi Bob! Hiking on Saturday?', 'Sure, 9:00 at the station?', 'Perfect, see you there']
    expect(await messageTexts(alice.page)).toEqual(expected)
    expect(await messageTexts(bob.page)).toEqual(expected)
    expect([...alice.errors, ...bob.errors]).toEqual([])
    await users.screenshot('web-chat-two-users')
  }, 45_000)

  it('sends offline, survives an offline reload, and delivers exactly once in order', async () => {
    const carol = await users.signIn('carol')
    const dave = await users.signIn('dave')
    await createConversation(carol.page, 'Offline test')
    await addParticipant(carol.page, 'dave')
    await send(carol.page, 'before going offline')
    await openConversation(dave.page, 'Offline test')
    await message(dave.page, 'before going offline').waitFor({ timeout: WAIT_MS })
    await waitStatus(carol.page, 'before going offline', 'read')
    // The service worker holds the app shell before the network goes away.
    await carol.page.locator('html[data-offline-ready="true"]').waitFor({ state: 'attached', timeout: WAIT_MS })

    await carol.context.setOffline(true)
    await waitOffline(carol.page)
    await carol.page.getByTestId('offline-banner').waitFor({ timeout: WAIT_MS })
    const offline = ['offline one', 'offline two', 'offline three']
    for (const text of offline) {
      await send(carol.page, text)
      await waitStatus(carol.page, text, 'pending')
    }

    // Reload without a network: the service worker serves the app, IndexedDB the conversation.
    await carol.page.reload()
    await carol.page.getByTestId('chat-app').waitFor({ timeout: WAIT_MS })
    await carol.page.getByTestId('conversation-title').filter({ hasText: 'Offline test' }).waitFor({ timeout: WAIT_MS })
    for (const text of offline) await waitStatus(carol.page, text, 'pending')
    await expect(connectionStatus(carol.page).getAttribute('data-state')).resolves.toBe('offline')
    expect(await messageTexts(carol.page)).toEqual(['before going offline', ...offline])
    expect(await messageTexts(dave.page)).toEqual(['before going offline'])

    await carol.context.setOffline(false)
    await waitOnline(carol.page)
    const seen = await waitUntil(
      () => messageTexts(dave.page),
      (texts) => texts.includes('offline three'),
      'dave to receive the offline messages',
    )
    expect(seen).toEqual(['before going offline', ...offline])
    for (const text of offline) await waitStatus(carol.page, text, 'read')
    // Nothing arrives twice later on either.
    expect(await messageTexts(dave.page)).toEqual(['before going offline', ...offline])
    expect(await messageTexts(carol.page)).toEqual(['before going offline', ...offline])
  }, 45_000)

  it('edits, deletes, locations, file links, and older history on demand', async () => {
    const gina = await users.signIn('gina')
    const hank = await users.signIn('hank')
    await createConversation(gina.page, 'Features')
    await addParticipant(gina.page, 'hank')

    // Location and file reference, through the attach panel.
    await gina.page.getByTestId('attach-button').click()
    await gina.page.getByTestId('location-lat').fill('52.52')
    await gina.page.getByTestId('location-lon').fill('13.405')
    await gina.page.getByTestId('location-label').fill('Alexanderplatz')
    await gina.page.getByTestId('send-location').click()
    await gina.page.getByTestId('attach-button').click()
    await gina.page.getByTestId('file-url').fill('https://files.example.com/agenda.pdf')
    await gina.page.getByTestId('file-size').fill('48213')
    await gina.page.getByTestId('send-file').click()

    for (let i = 1; i <= 32; i++) await send(gina.page, `note ${i}`)
    await send(gina.page, 'typo hre')
    await send(gina.page, 'delete me')

    const typo = message(gina.page, 'typo hre')
    await typo.hover()
    await typo.getByTestId('edit-button').click()
    await gina.page.getByTestId('composer-input').fill('typo here')
    await gina.page.getByTestId('composer-input').press('Enter')
    await message(gina.page, 'typo here').waitFor()
    const doomed = message(gina.page, 'delete me')
    await doomed.hover()
    await doomed.getByTestId('delete-button').click()
    await doomed.getByTestId('delete-button').click()
    await doomed.waitFor({ state: 'detached' })
    // A tombstone says where it was.
    await gina.page.getByTestId('message-tombstone').filter({ hasText: 'This message was deleted' }).waitFor()

    // Hank sees the newest 30 (the edit, not the deleted one), then loads the older ones.
    await openConversation(hank.page, 'Features')
    await message(hank.page, 'typo here').waitFor()
    const newest = await messageTexts(hank.page)
    expect(newest).toHaveLength(30)
    expect(newest.at(-1)).toBe('typo here')
    expect(newest).not.toContain('delete me')
    await hank.page.getByTestId('load-older').click()
    await hank.page.getByTestId('location-block').filter({ hasText: 'Alexanderplatz' }).waitFor()
    await hank.page.getByTestId('file-block').filter({ hasText: 'agenda.pdf' }).waitFor()
    await expect(hank.page.getByTestId('file-block').getAttribute('href')).resolves.toBe(
      'https://files.example.com/agenda.pdf',
    )
    await hank.page.getByTestId('load-older').waitFor({ state: 'hidden' })
    const all = await messageTexts(hank.page)
    expect(all).toHaveLength(35)
    expect(all.slice(2, 4)).toEqual(['note 1', 'note 2'])
    await hank.page.getByTestId('message-scroller').evaluate((el) => {
      el.scrollTop = 0
    })
    await users.screenshot('web-chat-features')
  }, 45_000)

  it('first sign-in shows a welcome, and at 390 px wide the top bar fits and a conversation opens', async () => {
    const kate = await users.signIn('kate')
    // The right pane is never blank: a first sign-in says what to do.
    await kate.page.getByTestId('placeholder').filter({ hasText: 'Welcome!' }).waitFor({ timeout: WAIT_MS })

    await kate.page.setViewportSize({ width: 390, height: 844 })
    const fits = async (): Promise<void> => {
      const box = await kate.page.getByTestId('sign-out').boundingBox()
      expect(box).not.toBeNull()
      expect(box!.x).toBeGreaterThanOrEqual(0)
      expect(box!.x + box!.width).toBeLessThanOrEqual(390)
      const overflow = await kate.page.evaluate(() => document.documentElement.scrollWidth)
      expect(overflow).toBeLessThanOrEqual(390)
    }
    await fits()
    await createConversation(kate.page, 'Narrow screen')
    await send(kate.page, 'fits on a phone')
    await fits()
    // One pane at a time: the conversation, with a way back to the list.
    await expect(kate.page.getByTestId('conversation-list').isVisible()).resolves.toBe(false)
    await kate.page.locator('.conversation-header .back').click()
    await conversationItem(kate.page, 'Narrow screen').waitFor({ timeout: WAIT_MS })
    await fits()
    await users.screenshot('web-chat-390')
    expect(kate.errors).toEqual([])
  }, 45_000)

  it('"Add a person" refuses what is not a name; someone added by mistake can be removed', async () => {
    const lena = await users.signIn('lena')
    const mike = await users.signIn('mike')
    await createConversation(lena.page, 'Names')
    const input = lena.page.getByTestId('add-participant-input')
    await input.fill('x'.repeat(200))
    await lena.page.getByTestId('add-participant-button').click()
    await lena.page.getByTestId('add-participant-error').waitFor({ timeout: WAIT_MS })
    await input.fill('not a name!')
    await lena.page.getByTestId('add-participant-button').click()
    await lena.page.getByTestId('add-participant-error').waitFor({ timeout: WAIT_MS })
    await expect(lena.page.getByTestId('participant').count()).resolves.toBe(1)

    // A valid name nobody signs in with keeps messages from being read by everyone…
    await addParticipant(lena.page, 'mike')
    await addParticipant(lena.page, 'nobody-yet')
    await send(lena.page, 'who reads this?')
    await openConversation(mike.page, 'Names')
    await message(mike.page, 'who reads this?').waitFor({ timeout: WAIT_MS })
    await waitStatus(lena.page, 'who reads this?', 'sent')
    // …until they are removed.
    await lena.page
      .locator('[data-testid="participant"][data-identity="nobody-yet"] [data-testid="remove-participant"]')
      .click()
    await lena.page
      .locator('[data-testid="participant"][data-identity="nobody-yet"]')
      .waitFor({ state: 'detached', timeout: WAIT_MS })
    await waitStatus(lena.page, 'who reads this?', 'read')
    expect([...lena.errors, ...mike.errors]).toEqual([])
  }, 45_000)

  it('reconnects by itself when the relay restarts, and keeps chatting', async () => {
    const erin = await users.signIn('erin')
    const frank = await users.signIn('frank')
    await createConversation(erin.page, 'Restart test')
    await addParticipant(erin.page, 'frank')
    await openConversation(frank.page, 'Restart test')
    await send(erin.page, 'ping before restart')
    await message(frank.page, 'ping before restart').waitFor({ timeout: WAIT_MS })
    await send(frank.page, 'pong before restart')
    await message(erin.page, 'pong before restart').waitFor({ timeout: WAIT_MS })

    const connects = async (page: typeof erin.page): Promise<number> =>
      Number(await connectionStatus(page).getAttribute('data-connects'))
    const before = { erin: await connects(erin.page), frank: await connects(frank.page) }

    await server.restartRelay()

    // Both pages notice the restart and connect again on their own.
    await waitUntil(
      () => connects(erin.page),
      (n) => n > before.erin,
      'erin to reconnect',
    )
    await waitUntil(
      () => connects(frank.page),
      (n) => n > before.frank,
      'frank to reconnect',
    )
    await waitOnline(erin.page)
    await waitOnline(frank.page)

    await send(erin.page, 'ping after restart')
    await message(frank.page, 'ping after restart').waitFor({ timeout: WAIT_MS })
    await send(frank.page, 'pong after restart')
    await message(erin.page, 'pong after restart').waitFor({ timeout: WAIT_MS })
    await waitStatus(erin.page, 'ping after restart', 'read')
    await waitStatus(frank.page, 'pong after restart', 'read')
    const expected = ['ping before restart', 'pong before restart', 'ping after restart', 'pong after restart']
    expect(await messageTexts(erin.page)).toEqual(expected)
    expect(await messageTexts(frank.page)).toEqual(expected)
  }, 45_000)
})
