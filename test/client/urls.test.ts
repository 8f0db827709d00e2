/**
 * URL fields (a file block's `url`, a user's and a conversation's `photoUrl`) take absolute http(s)
 * URLs and the relay's own blob paths, and nothing else: the client refuses the rest with
 * INVALID_ARGUMENT, and the relay's validator refuses the same values written on the wire.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { Client, createMemoryStorage, type FileBlock } from '../../src/index.ts'
import { buildWorld, expectRefused, malloryIn, Scope, UPDATE_REJECTED } from '../security/helpers.ts'
import { expectCode } from './helpers.ts'

const BLOB = `/blobs/${'ab'.repeat(32)}`

/** What a renderer would run as a script, open locally, or inline; and what hides a scheme. */
const REFUSED = [
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  ' javascript:alert(1)',
  'java\tscript:alert(1)',
  'java\nscript:alert(1)',
  '\u0000javascript:alert(1)',
  'javascript://example.com/%0Aalert(1)',
  'vbscript:msgbox(1)',
  'data:text/html,<script>alert(1)</script>',
  'file:///etc/passwd',
  'blob:https://example.com/1234',
  'ftp://example.com/a.png',
  '//evil.example/a.png',
  'https:evil.example',
  'https://',
  'https:// example.com/a.png',
  '/blobs/../../etc/passwd',
  '/avatars/me.png',
  'a.png',
  '\u00a0https://example.com/a.png',
  `https://example.com/${'x'.repeat(2048)}`,
  '',
]
const ACCEPTED = [
  'https://cdn.example.com/a.png',
  'HTTPS://cdn.example.com/a.png?size=64#top',
  'http://localhost:8080/a.png',
  'https://例え.jp/画像.png',
  BLOB,
]

const file = (url: string): FileBlock => ({
  type: 'file',
  subtype: 'image',
  url,
  filename: 'a.png',
  contentType: 'image/png',
  size: 10,
})

describe('URL fields on the client', () => {
  const opened: Client[] = []
  afterEach(async () => {
    for (const c of opened.splice(0)) await c.shutdown()
  })
  const client = async () => {
    const c = await Client.create({ identity: 'alice', storage: createMemoryStorage() })
    opened.push(c)
    return c
  }

  it('refuses every URL that is not http(s) or a relay blob path, in every URL field', async () => {
    const c = await client()
    const conv = await c.createConversation({ join: true })
    const sent = await conv.sendMessage({ content: [file('https://cdn.example.com/ok.png')] })
    for (const url of REFUSED) {
      const label = JSON.stringify(url)
      expect((await expectCode(conv.sendMessage({ content: [file(url)] }), 'INVALID_ARGUMENT')).message, label).toMatch(
        /file url/,
      )
      await expectCode(sent.updateContent([file(url)]), 'INVALID_ARGUMENT')
      await expectCode(c.createConversation({ photoUrl: url }), 'INVALID_ARGUMENT')
      await expectCode(conv.updatePhotoUrl(url), 'INVALID_ARGUMENT')
      await expectCode(c.user.updatePhotoUrl(url), 'INVALID_ARGUMENT')
    }
    // Nothing refused was written.
    expect(conv.photoUrl).toBe(null)
    expect(c.user.photoUrl).toBe(null)
    expect((sent.content[0] as FileBlock).url).toBe('https://cdn.example.com/ok.png')
    expect(await conv.getMessagesCount()).toBe(1)
  })

  it('accepts absolute http(s) URLs and the relay blob path, unchanged', async () => {
    const c = await client()
    const conv = await c.createConversation({ join: true })
    for (const url of ACCEPTED) {
      const m = await conv.sendMessage({ content: [file(url)] })
      expect((m.content[0] as FileBlock).url).toBe(url)
      await conv.updatePhotoUrl(url)
      expect(conv.photoUrl).toBe(url)
      await c.user.updatePhotoUrl(url)
      expect(c.user.photoUrl).toBe(url)
    }
    await conv.updatePhotoUrl(null)
    expect(conv.photoUrl).toBe(null)
  })
})

describe('URL fields on the relay', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('refuses a message whose file block links to javascript:', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const record = {
      id: 'IMjsurl1',
      author: 'mallory',
      participantSid: null,
      content: [file('javascript:alert(document.cookie)')],
      attributes: {},
      replyTo: null,
      createdAt: Date.now(),
    }
    const update = m.forge(w.docName, (d) => d.getMap('messages').set(record.id, record))
    await expectRefused(w, m, () => m.sendUpdate(w.docName, update), 'invalid message content', {
      absent: (doc) => !doc.getMap('messages').has(record.id),
    })
  })

  it('refuses a conversation photoUrl that is not http(s), even from its admin', async () => {
    const w = await buildWorld(s)
    const admin = await s.raw(w.relay.url, 'alice')
    await admin.sync(w.docName)
    const update = admin.forge(w.docName, (d) =>
      d.getMap('meta').set('photoUrl', { v: ' JaVaScRiPt:alert(1)', at: Date.now(), by: 'alice' }),
    )
    await expectRefused(w, admin, () => admin.sendUpdate(w.docName, update), 'invalid photoUrl', {
      absent: (doc) => (doc.getMap('meta').get('photoUrl') as { v?: unknown } | undefined)?.v === undefined,
    })
  })

  it('refuses a profile photoUrl that is not http(s), and takes an https one', async () => {
    const { relay } = await s.relay()
    const mine = 'user/mallory'
    for (const url of ['javascript:alert(1)', 'java\tscript:alert(1)', 'data:image/svg+xml,<svg/onload=alert(1)>']) {
      const m = await s.raw(relay.url, 'mallory')
      await m.sync(mine)
      m.sendUpdate(
        mine,
        m.forge(mine, (d) => d.getMap('profile').set('photoUrl', url)),
      )
      const closed = await m.waitClosed()
      expect(closed.code).toBe(UPDATE_REJECTED)
      expect(closed.reason).toContain('invalid photoUrl')
    }
    const honest = await s.raw(relay.url, 'mallory')
    await honest.sync(mine)
    honest.sendUpdate(
      mine,
      honest.forge(mine, (d) => d.getMap('profile').set('photoUrl', 'https://cdn.example.com/mal.png')),
    )
    await honest.roundTrip(mine)
    expect(honest.isOpen).toBe(true)
  })
})
