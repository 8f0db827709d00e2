import { describe, expect, it } from 'vitest'
import {
  type ContentBlock,
  DEFAULT_PAGE_SIZE,
  LIMITS,
  type Message,
  type MessageUpdateReason,
  type Paginator,
} from '../../src/index.js'
import { expectCode, manualClock, record, useHarness, waitFor } from './helpers.js'

const h = useHarness()

type MessageUpdated = { message: Message; updateReasons: MessageUpdateReason[] }

const solo = async (options: Parameters<typeof h.client>[1] = {}) => {
  const alice = await h.client('alice', options)
  const conv = await alice.createConversation({ join: true })
  return { alice, conv }
}

const location: ContentBlock = { type: 'location', latitude: 52.52, longitude: 13.405, label: 'Berlin' }
const file: ContentBlock = {
  type: 'file',
  subtype: 'image',
  url: 'https://cdn.example.com/cat.png',
  filename: 'cat.png',
  contentType: 'image/png',
  size: 1234,
  width: 640,
  height: 480,
}

describe('sendMessage', () => {
  it('sends a string: one text block, sequenced at once without a relay', async () => {
    const clock = manualClock(9_000)
    const { conv } = await solo({ now: clock.now })
    const m = await conv.sendMessage('hello')
    expect(m.sid).toMatch(/^IM[0-9a-f]{32}$/)
    expect(m.conversation).toBe(conv)
    expect(m.body).toBe('hello')
    expect(m.content).toEqual([{ type: 'text', text: 'hello' }])
    expect(m.type).toBe('text')
    expect(m.author).toBe('alice')
    expect(m.participantSid).toBe((await conv.getParticipantByIdentity('alice')).sid)
    expect(m.index).toBe(0)
    expect(m.dateCreated.getTime()).toBe(9_000)
    expect(m.dateUpdated).toBeNull()
    expect(m.lastUpdatedBy).toBeNull()
    expect(m.attributes).toEqual({})
    expect(m.referencedMessageSid).toBeNull()
    expect(await m.getReferencedMessage()).toBeNull()
    expect(m.isRemoved).toBe(false)
    expect(m.reactions).toEqual([])
    // Nobody else is here to read it.
    expect(m.status).toBe('sent')
    expect((await m.getParticipant())!.identity).toBe('alice')
    expect(conv.lastMessage).toEqual({ index: 0, dateCreated: new Date(9_000) })
    const second = await conv.sendMessage('again')
    expect(second.index).toBe(1)
  })

  it('sends { body } with attributes, from the input or the second argument', async () => {
    const { conv } = await solo()
    const a = await conv.sendMessage({ body: 'with attrs', attributes: { kind: 'note' } })
    expect(a.body).toBe('with attrs')
    expect(a.attributes).toEqual({ kind: 'note' })
    const b = await conv.sendMessage('second arg', { priority: 2 })
    expect(b.attributes).toEqual({ priority: 2 })
    const c = await conv.sendMessage({ body: 'both', attributes: { from: 'input' } }, { from: 'argument' })
    expect(c.attributes).toEqual({ from: 'argument' })
    // Attributes are copies: mutating them changes nothing.
    const attrs = a.attributes
    attrs.kind = 'changed'
    expect(a.attributes).toEqual({ kind: 'note' })
  })

  it('sends content blocks: text, location and file', async () => {
    const { conv } = await solo()
    const m = await conv.sendMessage({ content: [{ type: 'text', text: 'look' }, location, file] })
    expect(m.content).toEqual([{ type: 'text', text: 'look' }, location, file])
    expect(m.type).toBe('media')
    expect(m.body).toBe('look')
    const onlyMedia = await conv.sendMessage({ content: [location] })
    expect(onlyMedia.body).toBeNull()
    expect(onlyMedia.type).toBe('media')
    const twoTexts = await conv.sendMessage({
      content: [
        { type: 'text', text: 'line 1' },
        { type: 'text', text: 'line 2' },
      ],
    })
    expect(twoTexts.body).toBe('line 1\nline 2')
    expect(twoTexts.type).toBe('text')
    const defaultSubtype = await conv.sendMessage({
      content: [
        { type: 'file', url: 'https://cdn.example.com/u', filename: 'f', contentType: 'c', size: 0 } as ContentBlock,
      ],
    })
    expect(defaultSubtype.content[0]).toMatchObject({ type: 'file', subtype: 'file' })
  })

  it('replies to a message with referencedMessage', async () => {
    const { conv } = await solo()
    const original = await conv.sendMessage('question?')
    const reply = await conv.sendMessage({ body: 'answer', referencedMessage: original.sid })
    expect(reply.referencedMessageSid).toBe(original.sid)
    expect(await reply.getReferencedMessage()).toBe(original)
    await expectCode(conv.sendMessage({ body: 'x', referencedMessage: 'IMdoesnotexist' }), 'NOT_FOUND')
  })

  it('accepts a body of exactly the limit and rejects one byte more', async () => {
    const { conv } = await solo()
    const max = await conv.sendMessage('a'.repeat(LIMITS.messageBodyBytes))
    expect(max.body).toHaveLength(LIMITS.messageBodyBytes)
    await expectCode(conv.sendMessage('a'.repeat(LIMITS.messageBodyBytes + 1)), 'INVALID_ARGUMENT')
    // Counted in UTF-8 bytes, not characters.
    const euros = '€'.repeat(Math.floor(LIMITS.messageBodyBytes / 3) + 1)
    expect(euros.length).toBeLessThan(LIMITS.messageBodyBytes)
    await expectCode(conv.sendMessage(euros), 'INVALID_ARGUMENT')
    expect(await conv.getMessagesCount()).toBe(1)
  })

  it.each<[string, unknown]>([
    ['an empty body', ''],
    ['an empty { body }', { body: '' }],
    ['a non-string body', { body: 5 }],
    ['no body and no content', {}],
    ['null', null],
    ['empty content', { content: [] }],
    [
      'too many blocks',
      { content: Array.from({ length: LIMITS.contentBlocks + 1 }, () => ({ type: 'text', text: 'x' })) },
    ],
    ['an unknown block type', { content: [{ type: 'video', url: 'x' }] }],
    ['a text block without text', { content: [{ type: 'text' }] }],
    ['latitude 91', { content: [{ type: 'location', latitude: 91, longitude: 0 }] }],
    ['latitude -90.5', { content: [{ type: 'location', latitude: -90.5, longitude: 0 }] }],
    ['longitude 181', { content: [{ type: 'location', latitude: 0, longitude: 181 }] }],
    ['longitude -181', { content: [{ type: 'location', latitude: 0, longitude: -181 }] }],
    ['NaN latitude', { content: [{ type: 'location', latitude: Number.NaN, longitude: 0 }] }],
    ['string longitude', { content: [{ type: 'location', latitude: 0, longitude: '13' }] }],
    ['an empty location label', { content: [{ type: 'location', latitude: 0, longitude: 0, label: '' }] }],
    ['a file without url', { content: [{ ...file, url: undefined }] }],
    ['a file with an empty name', { content: [{ ...file, filename: '' }] }],
    ['a file without contentType', { content: [{ ...file, contentType: undefined }] }],
    ['a file with negative size', { content: [{ ...file, size: -1 }] }],
    ['a file with infinite size', { content: [{ ...file, size: Number.POSITIVE_INFINITY }] }],
    ['a file with a bad subtype', { content: [{ ...file, subtype: 'gif' }] }],
    ['a file with negative width', { content: [{ ...file, width: -2 }] }],
    ['a file with a too-long url', { content: [{ ...file, url: 'x'.repeat(LIMITS.urlLength + 1) }] }],
    [
      'text blocks over the byte limit together',
      {
        content: [
          { type: 'text', text: 'a'.repeat(LIMITS.messageBodyBytes / 2) },
          { type: 'text', text: 'a'.repeat(LIMITS.messageBodyBytes / 2) },
        ],
      },
    ],
    ['array attributes', { body: 'x', attributes: [1] }],
    ['oversized attributes', { body: 'x', attributes: { big: 'x'.repeat(LIMITS.attributesBytes) } }],
  ])('rejects %s with INVALID_ARGUMENT', async (_what, input) => {
    const { conv } = await solo()
    await expectCode(conv.sendMessage(input as never), 'INVALID_ARGUMENT')
    expect(await conv.getMessagesCount()).toBe(0)
  })

  it('refuses a closed conversation with FORBIDDEN', async () => {
    const { conv } = await solo()
    await conv.updateState('closed')
    await expectCode(conv.sendMessage('hi'), 'FORBIDDEN')
    await expectCode(conv.sendMessage({ content: [location] }), 'FORBIDDEN')
  })

  it('emits messageAdded on the conversation and the client', async () => {
    const { alice, conv } = await solo()
    const onConv = waitFor<Message>(conv, 'messageAdded')
    const onClient = waitFor<Message>(alice, 'messageAdded')
    const m = await conv.sendMessage('event')
    expect(await onConv).toBe(m)
    expect(await onClient).toBe(m)
  })

  it('emits `updated` with lastMessage on the conversation', async () => {
    const { conv } = await solo()
    const seen = waitFor<{ updateReasons: string[] }>(conv, 'updated', 2_000, (u) =>
      u.updateReasons.includes('lastMessage'),
    )
    await conv.sendMessage('x')
    await seen
  })
})

describe('getMessages paging', () => {
  const seventyFive = async () => {
    const { conv } = await solo()
    for (let i = 0; i < 75; i++) await conv.sendMessage(`m${i}`)
    return conv
  }
  const indices = (p: Paginator<Message>) => p.items.map((m) => m.index)
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

  it('defaults to the newest 30, ascending, with older pages before', async () => {
    const conv = await seventyFive()
    expect(DEFAULT_PAGE_SIZE).toBe(30)
    const page = await conv.getMessages()
    expect(indices(page)).toEqual(range(45, 74))
    expect(page.items[0]!.body).toBe('m45')
    expect(page.hasPrevPage).toBe(true)
    expect(page.hasNextPage).toBe(false)
    await expectCode(page.nextPage(), 'NO_PAGE')
    const older = await page.prevPage()
    expect(older).not.toBe(page)
    expect(indices(older)).toEqual(range(15, 44))
    const oldest = await older.prevPage()
    expect(indices(oldest)).toEqual(range(0, 14))
    expect(oldest.hasPrevPage).toBe(false)
    expect(oldest.hasNextPage).toBe(true)
    await expectCode(oldest.prevPage(), 'NO_PAGE')
    const forward = await oldest.nextPage()
    expect(indices(forward)).toEqual(range(15, 44))
    expect(indices(await forward.nextPage())).toEqual(range(45, 74))
    // The first page never changed.
    expect(indices(page)).toEqual(range(45, 74))
  })

  it('anchors backwards (page ends at the anchor) and forward (page starts there)', async () => {
    const conv = await seventyFive()
    const back = await conv.getMessages(10, 20)
    expect(indices(back)).toEqual(range(11, 20))
    expect(back.hasPrevPage).toBe(true)
    expect(back.hasNextPage).toBe(true)
    expect(indices(await back.nextPage())).toEqual(range(21, 30))
    const fwd = await conv.getMessages(10, 20, 'forward')
    expect(indices(fwd)).toEqual(range(20, 29))
    expect(indices(await fwd.prevPage())).toEqual(range(10, 19))
    expect(indices(await conv.getMessages(10, undefined, 'forward'))).toEqual(range(0, 9))
    const tail = await conv.getMessages(10, 70, 'forward')
    expect(indices(tail)).toEqual(range(70, 74))
    expect(tail.hasNextPage).toBe(false)
    const head = await conv.getMessages(10, 3)
    expect(indices(head)).toEqual(range(0, 3))
    expect(head.hasPrevPage).toBe(false)
  })

  it('pages over an empty conversation', async () => {
    const { conv } = await solo()
    const page = await conv.getMessages()
    expect(page.items).toEqual([])
    expect(page.hasPrevPage).toBe(false)
    expect(page.hasNextPage).toBe(false)
  })

  it('skips removed messages and sees newer ones through nextPage', async () => {
    const conv = await seventyFive()
    await (await conv.getMessages(1, 20)).items[0]!.remove()
    expect(indices(await conv.getMessages(5, 21))).toEqual([16, 17, 18, 19, 21])
    const last = await conv.getMessages(5, 70, 'forward')
    expect(last.hasNextPage).toBe(false)
    const older = await conv.getMessages(5, 64, 'forward')
    await conv.sendMessage('m75')
    const next = await older.nextPage()
    expect(indices(next)).toEqual(range(69, 73))
    expect(indices(await next.nextPage())).toEqual([74, 75])
  })

  it.each<[string, unknown[]]>([
    ['pageSize 0', [0]],
    ['pageSize 101', [101]],
    ['pageSize 1.5', [1.5]],
    ['a string pageSize', ['10']],
    ['a negative anchor', [10, -1]],
    ['a fractional anchor', [10, 1.5]],
    ['an unknown direction', [10, 0, 'sideways']],
  ])('rejects %s with INVALID_ARGUMENT', async (_what, args) => {
    const { conv } = await solo()
    await expectCode((conv.getMessages as (...a: unknown[]) => Promise<unknown>)(...args), 'INVALID_ARGUMENT')
  })

  it('accepts pageSize 1 and 100', async () => {
    const conv = await seventyFive()
    expect((await conv.getMessages(1)).items).toHaveLength(1)
    expect((await conv.getMessages(100)).items).toHaveLength(75)
  })

  it('lists pending messages after sequenced ones', async () => {
    const net = h.network()
    const link = net.link('alice')
    const alice = await h.client('alice', { transport: link })
    const conv = await alice.createConversation({ join: true })
    await conv.sendMessage('sent')
    await net.settle()
    link.partition()
    await conv.sendMessage('pending 1')
    await conv.sendMessage('pending 2')
    const page = await conv.getMessages()
    expect(page.items.map((m) => [m.body, m.index])).toEqual([
      ['sent', 0],
      ['pending 1', null],
      ['pending 2', null],
    ])
    expect(await conv.getMessagesCount()).toBe(3)
    link.heal()
    await net.settle()
    expect(page.items.map((m) => m.index)).toEqual([0, 1, 2])
  })
})

describe('getMessageBySid', () => {
  it('finds a message and rejects unknown sids with NOT_FOUND', async () => {
    const { conv } = await solo()
    const m = await conv.sendMessage('x')
    expect(await conv.getMessageBySid(m.sid)).toBe(m)
    await expectCode(conv.getMessageBySid('IMnope'), 'NOT_FOUND')
    await expectCode(conv.getMessageBySid(''), 'INVALID_ARGUMENT')
  })
})

describe('editing', () => {
  it('updateBody replaces the text, keeps other blocks and records who and when', async () => {
    const clock = manualClock(1_000)
    const { alice, conv } = await solo({ now: clock.now })
    const m = await conv.sendMessage({ content: [{ type: 'text', text: 'old' }, location] })
    clock.set(2_000)
    const onMessage = waitFor<MessageUpdated>(m, 'updated')
    const onConv = waitFor<MessageUpdated>(conv, 'messageUpdated')
    const onClient = waitFor<MessageUpdated>(alice, 'messageUpdated')
    expect(await m.updateBody('new')).toBe(m)
    for (const p of [onMessage, onConv, onClient]) {
      const u = await p
      expect(u.message).toBe(m)
      expect(u.updateReasons).toEqual(expect.arrayContaining(['body', 'dateUpdated', 'lastUpdatedBy']))
    }
    expect(m.body).toBe('new')
    expect(m.content).toEqual([{ type: 'text', text: 'new' }, location])
    expect(m.dateUpdated!.getTime()).toBe(2_000)
    expect(m.lastUpdatedBy).toBe('alice')
    expect(m.index).toBe(0)
    expect(m.dateCreated.getTime()).toBe(1_000)
  })

  it('updateContent replaces the blocks', async () => {
    const { conv } = await solo()
    const m = await conv.sendMessage('text')
    await m.updateContent([file])
    expect(m.content).toEqual([file])
    expect(m.type).toBe('media')
    expect(m.body).toBeNull()
    await expectCode(m.updateContent([]), 'INVALID_ARGUMENT')
    await expectCode(m.updateContent([{ type: 'location', latitude: 100, longitude: 0 }]), 'INVALID_ARGUMENT')
    expect(m.content).toEqual([file])
  })

  it('updateAttributes replaces; patchAttributes merges and null deletes', async () => {
    const { conv } = await solo()
    const m = await conv.sendMessage('x', { a: 1, b: 2 })
    await m.updateAttributes({ c: 3 })
    expect(m.attributes).toEqual({ c: 3 })
    await m.patchAttributes({ d: 4, c: null, e: undefined })
    expect(m.attributes).toEqual({ d: 4 })
    const seen = waitFor<MessageUpdated>(m, 'updated')
    await m.patchAttributes({ d: { nested: [1, 2] } })
    expect((await seen).updateReasons).toContain('attributes')
    expect(m.attributes).toEqual({ d: { nested: [1, 2] } })
    // Edits keep the body.
    expect(m.body).toBe('x')
  })

  it('rejects invalid edits with INVALID_ARGUMENT', async () => {
    const { conv } = await solo()
    const m = await conv.sendMessage('x')
    await expectCode(m.updateBody(''), 'INVALID_ARGUMENT')
    await expectCode(m.updateBody('a'.repeat(LIMITS.messageBodyBytes + 1)), 'INVALID_ARGUMENT')
    await expectCode(m.updateAttributes([] as never), 'INVALID_ARGUMENT')
    await expectCode(m.patchAttributes({ f: () => 1 }), 'INVALID_ARGUMENT')
    expect(m.body).toBe('x')
    expect(m.dateUpdated).toBeNull()
  })

  it('only the author may edit: FORBIDDEN for others', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.alice!.sendMessage('alice wrote this')
    await net.settle()
    const asBob = await convs.bob!.getMessageBySid(m.sid)
    await expectCode(asBob.updateBody('bob'), 'FORBIDDEN')
    await expectCode(asBob.updateContent([{ type: 'text', text: 'bob' }]), 'FORBIDDEN')
    await expectCode(asBob.updateAttributes({ x: 1 }), 'FORBIDDEN')
    await expectCode(asBob.patchAttributes({ x: 1 }), 'FORBIDDEN')
    expect(asBob.body).toBe('alice wrote this')
  })

  it('edits reach the other side with reasons', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.alice!.sendMessage('v1')
    await net.settle()
    const asBob = await convs.bob!.getMessageBySid(m.sid)
    const seen = waitFor<MessageUpdated>(asBob, 'updated', 2_000, (u) => u.updateReasons.includes('body'))
    await m.updateBody('v2')
    await net.settle()
    await seen
    expect(asBob.body).toBe('v2')
    expect(asBob.lastUpdatedBy).toBe('alice')
  })
})

describe('removing', () => {
  it('the author removes a message: messageRemoved, isRemoved, gone from lists', async () => {
    const { alice, conv } = await solo()
    const original = await conv.sendMessage('to be removed')
    const reply = await conv.sendMessage({ body: 'reply', referencedMessage: original.sid })
    const onConv = waitFor<Message>(conv, 'messageRemoved')
    const onClient = waitFor<Message>(alice, 'messageRemoved')
    await original.remove()
    expect(await onConv).toBe(original)
    expect(await onClient).toBe(original)
    expect(original.isRemoved).toBe(true)
    // A removed message keeps its last state.
    expect(original.body).toBe('to be removed')
    await expectCode(conv.getMessageBySid(original.sid), 'NOT_FOUND')
    expect(await conv.getMessagesCount()).toBe(1)
    expect((await conv.getMessages()).items).toEqual([reply])
    expect(reply.referencedMessageSid).toBe(original.sid)
    expect(await reply.getReferencedMessage()).toBeNull()
    // Removing again is harmless; editing or reacting to it is NOT_FOUND.
    await original.remove()
    await expectCode(original.updateBody('zombie'), 'NOT_FOUND')
    await expectCode(original.react('👍'), 'NOT_FOUND')
  })

  it('removal takes the reactions with it and reaches the other side', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.bob!.sendMessage('bye')
    await net.settle()
    const asAlice = await convs.alice!.getMessageBySid(m.sid)
    await asAlice.react('👋')
    await net.settle()
    const removed = waitFor<Message>(convs.alice!, 'messageRemoved')
    await m.remove()
    await net.settle()
    expect((await removed).sid).toBe(m.sid)
    expect(asAlice.isRemoved).toBe(true)
    expect(await convs.alice!.getMessagesCount()).toBe(0)
  })
})

describe('reactions', () => {
  it('react/unreact are idempotent and grouped by emoji in order of first use', async () => {
    const clock = manualClock(100)
    const { conv } = await solo({ now: clock.now })
    const m = await conv.sendMessage('react to me')
    const seen = record<MessageUpdated>(m, 'updated')
    clock.advance()
    await m.react('👍')
    clock.advance()
    await m.react('👍')
    clock.advance()
    await m.react(':party:')
    expect(m.reactions).toEqual([
      { emoji: '👍', count: 1, currentUserReacted: true, users: ['alice'] },
      { emoji: ':party:', count: 1, currentUserReacted: true, users: ['alice'] },
    ])
    expect(seen).toHaveLength(2)
    expect(seen.every((u) => u.updateReasons.includes('reactions'))).toBe(true)
    await m.unreact('👍')
    await m.unreact('👍')
    await m.unreact('🙈')
    expect(m.reactions.map((r) => r.emoji)).toEqual([':party:'])
    expect(seen).toHaveLength(3)
    seen.stop()
  })

  it('counts per user and tells whether I reacted', async () => {
    const { net, convs } = await h.shared(['bob', 'carol'])
    const m = await convs.alice!.sendMessage('vote')
    await net.settle()
    const bobs = await convs.bob!.getMessageBySid(m.sid)
    const carols = await convs.carol!.getMessageBySid(m.sid)
    await bobs.react('👍')
    await net.settle()
    await carols.react('👍')
    await carols.react('👎')
    await net.settle()
    expect(m.reactions).toEqual([
      { emoji: '👍', count: 2, currentUserReacted: false, users: expect.arrayContaining(['bob', 'carol']) },
      { emoji: '👎', count: 1, currentUserReacted: false, users: ['carol'] },
    ])
    expect(bobs.reactions.map((r) => [r.emoji, r.count, r.currentUserReacted])).toEqual([
      ['👍', 2, true],
      ['👎', 1, false],
    ])
    await bobs.unreact('👍')
    await net.settle()
    expect(carols.reactions.map((r) => [r.emoji, r.count, r.users])).toEqual([
      ['👍', 1, ['carol']],
      ['👎', 1, ['carol']],
    ])
  })

  it('allows 50 distinct emoji on a message, then LIMIT_EXCEEDED for a new one', async () => {
    const { net, convs } = await h.shared(['bob'])
    const m = await convs.alice!.sendMessage('so many')
    for (let i = 0; i < LIMITS.distinctReactions; i++) await m.react(`:e${i}:`)
    expect(m.reactions).toHaveLength(50)
    await expectCode(m.react(':one-too-many:'), 'LIMIT_EXCEEDED')
    await net.settle()
    const asBob = await convs.bob!.getMessageBySid(m.sid)
    await expectCode(asBob.react(':another:'), 'LIMIT_EXCEEDED')
    // An emoji already there is fine for someone else.
    await asBob.react(':e7:')
    expect(asBob.reactions.find((r) => r.emoji === ':e7:')!.count).toBe(2)
    // Freeing a slot lets a new emoji in.
    await m.unreact(':e0:')
    await m.react(':fresh:')
    expect(m.reactions).toHaveLength(50)
  })

  it.each<[string, unknown]>([
    ['an empty emoji', ''],
    ['an emoji over 50 characters', 'x'.repeat(LIMITS.emojiLength + 1)],
    ['an emoji with a control character', '👍\n'],
    ['a non-string', 5],
  ])('rejects %s with INVALID_ARGUMENT', async (_what, emoji) => {
    const { conv } = await solo()
    const m = await conv.sendMessage('x')
    await expectCode(m.react(emoji as string), 'INVALID_ARGUMENT')
    await expectCode(m.unreact(emoji as string), 'INVALID_ARGUMENT')
    expect(m.reactions).toEqual([])
  })
})

describe('delivery status', () => {
  it('goes pending → sent → read through the relay', async () => {
    const { net, convs } = await h.shared(['bob'])
    const alice = convs.alice!
    const m = await alice.sendMessage('track me')
    expect(m.index).toBeNull()
    expect(m.status).toBe('pending')
    expect(m.readCount).toBe(0)
    expect(m.aggregatedDeliveryReceipt).toMatchObject({ sent: 'none', delivered: 'none', read: 'none', total: 0 })
    const stamped = waitFor<MessageUpdated>(m, 'updated', 2_000, (u) => u.updateReasons.includes('index'))
    await net.settle()
    expect((await stamped).updateReasons).toEqual(expect.arrayContaining(['index', 'dateCreated']))
    expect(m.index).toBe(0)
    expect(m.status).toBe('sent')
    expect(m.aggregatedDeliveryReceipt).toEqual({
      total: 1,
      sent: 'all',
      delivered: 'all',
      read: 'none',
      undelivered: 'none',
      failed: 'none',
    })
    await convs.bob!.advanceLastReadMessageIndex(0)
    await net.settle()
    expect(m.status).toBe('read')
    expect(m.readCount).toBe(1)
    expect(m.aggregatedDeliveryReceipt.read).toBe('all')
  })

  it('is read only when every other participant read it; "some" in between', async () => {
    const { net, convs } = await h.shared(['bob', 'carol'])
    const m = await convs.alice!.sendMessage('to both')
    await net.settle()
    await convs.bob!.setAllMessagesRead()
    await net.settle()
    expect(m.status).toBe('sent')
    expect(m.readCount).toBe(1)
    expect(m.aggregatedDeliveryReceipt).toMatchObject({ total: 2, read: 'some' })
    await convs.carol!.setAllMessagesRead()
    await net.settle()
    expect(m.status).toBe('read')
    expect(m.readCount).toBe(2)
    expect(m.aggregatedDeliveryReceipt).toMatchObject({ total: 2, read: 'all' })
  })

  it('the index is assigned by the relay and identical on every replica', async () => {
    const { net, convs } = await h.shared(['bob'])
    const a = await convs.alice!.sendMessage('a')
    const b = await convs.bob!.sendMessage('b')
    expect([a.index, b.index]).toEqual([null, null])
    await net.settle()
    expect([a.index, b.index].sort()).toEqual([0, 1])
    const onBob = await convs.bob!.getMessageBySid(a.sid)
    expect(onBob.index).toBe(a.index)
    expect(onBob.dateCreated.getTime()).toBe(a.dateCreated.getTime())
  })
})

describe('messages from others', () => {
  it('arrive with author, participant and messageAdded', async () => {
    const { net, convs } = await h.shared(['bob'])
    const added = waitFor<Message>(convs.alice!, 'messageAdded')
    const sent = await convs.bob!.sendMessage({ body: 'from bob', attributes: { x: 1 } })
    await net.settle()
    const m = await added
    expect(m.sid).toBe(sent.sid)
    expect(m.author).toBe('bob')
    expect(m.attributes).toEqual({ x: 1 })
    expect((await m.getParticipant())!.identity).toBe('bob')
    expect(m.participantSid).toBe((await convs.alice!.getParticipantByIdentity('bob')).sid)
  })

  it('getParticipant is null once the author left', async () => {
    const { net, convs } = await h.shared(['bob'])
    const sent = await convs.bob!.sendMessage('then left')
    await net.settle()
    await convs.bob!.leave()
    await net.settle()
    const m = await convs.alice!.getMessageBySid(sent.sid)
    expect(await m.getParticipant()).toBeNull()
    expect(m.author).toBe('bob')
  })
})
