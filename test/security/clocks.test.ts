/**
 * Clocks and lengths a client may claim (issue 13, item 19). Past 2^53, `x + 1 === x`: a struct
 * that the validator took for a repeat of what it had (`clock + length <= known`) was new to Yjs,
 * which integrated it unjudged. So a member — a read-only one included — who bound a clientID with
 * one huge, already-deleted item could then write anything: make herself admin, forge messages,
 * change stamps, remove members. And Yjs applies only the last of several groups a client has in
 * one update, while the validator judged every group: a harmless first group hid the second.
 *
 * Every case is refused with 4422, changes nothing on the relay, and is never seen by alice or bob.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { MAX_CLOCK } from '../../src/crdt/update-decoder.ts'
import { participantRecord } from '../../src/schema/layout.ts'
import {
  boundClientOf,
  buildWorld,
  expectRefused,
  malloryIn,
  Scope,
  UPDATE_REJECTED,
  type World,
  waitUntil,
} from './helpers.ts'
import {
  type Content,
  currentItem,
  encodeGroups,
  encodeUpdate,
  item,
  type RawClient,
  type Struct,
} from './raw-client.ts'

const map = (doc: Y.Doc, root: string) => doc.getMap<unknown>(root)
const forgedMessage = (id: string, author: string) => ({
  id,
  author,
  participantSid: null,
  content: [{ type: 'text', text: `forged by ${author}` }],
  attributes: {},
  replyTo: null,
  createdAt: Date.now(),
})
/** A clientID mallory never used. */
let nextClient = 91_000_000
const freshClient = (): number => nextClient++

/** One value written to `root[key]` by `client` at `clock`, placed as that key's newest entry. */
const entry = (d: Y.Doc, client: number, clock: number, root: string, key: string, content: Content | unknown[]) => {
  const live = currentItem(d, root, key)
  return live
    ? item({ client, clock, origin: live.lastId, content })
    : item({ client, clock, parent: root, parentSub: key, content })
}

/** What each payload would do if it were integrated, and how to see that it was not. */
interface Payload {
  name: string
  make: (w: World, d: Y.Doc, client: number, clock: number) => Struct
  absent: (w: World) => (doc: Y.Doc) => boolean
}

const PAYLOADS: Payload[] = [
  {
    name: 'a message forged from alice (ContentAny)',
    make: (_w, d, c, k) => entry(d, c, k, 'messages', 'IMclockforged', [forgedMessage('IMclockforged', 'alice')]),
    absent: () => (doc) => !map(doc, 'messages').has('IMclockforged'),
  },
  {
    name: 'herself made admin (ContentAny)',
    make: (w, d, c, k) =>
      entry(d, c, k, 'participants', 'mallory', [
        {
          ...participantRecord(w.conv.sid, 'mallory', { at: Date.now(), addedBy: 'alice', membership: 'feedface' }),
          role: 'admin',
        },
      ]),
    absent: () => (doc) => (map(doc, 'participants').get('mallory') as { role?: string } | undefined)?.role !== 'admin',
  },
  {
    name: 'a changed stamp (ContentAny)',
    make: (w, d, c, k) => entry(d, c, k, 'stamps', w.first.sid, [{ i: 999, t: 1 }]),
    absent: (w) => (doc) => (map(doc, 'stamps').get(w.first.sid) as { i?: number } | undefined)?.i !== 999,
  },
  {
    name: 'bob removed (ContentDeleted)',
    make: (_w, d, c, k) => entry(d, c, k, 'participants', 'bob', new Y.ContentDeleted(1)),
    absent: () => (doc) => map(doc, 'participants').has('bob'),
  },
  {
    name: 'a renamed conversation (ContentString)',
    make: (_w, d, c, k) => entry(d, c, k, 'meta', 'friendlyName', new Y.ContentString('pwned')),
    absent: () => (doc) => map(doc, 'meta').get('friendlyName') !== 'pwned',
  },
  {
    name: 'a nested type (ContentType)',
    make: (_w, d, c, k) => entry(d, c, k, 'messages', 'IMnested', new Y.ContentType(new Y.Map())),
    absent: () => (doc) => !map(doc, 'messages').has('IMnested'),
  },
  {
    name: 'JSON content (ContentJSON)',
    make: (_w, d, c, k) => entry(d, c, k, 'attributes', 'topic', new Y.ContentJSON(['pwned'])),
    absent: () => (doc) => map(doc, 'attributes').get('topic') === 'plans',
  },
  {
    name: 'binary content (ContentBinary)',
    make: (_w, d, c, k) => entry(d, c, k, 'attributes', 'topic', new Y.ContentBinary(new Uint8Array([1, 2]))),
    absent: () => (doc) => map(doc, 'attributes').get('topic') === 'plans',
  },
  {
    name: 'an embed (ContentEmbed)',
    make: (_w, d, c, k) => entry(d, c, k, 'attributes', 'topic', new Y.ContentEmbed({ x: 1 })),
    absent: () => (doc) => map(doc, 'attributes').get('topic') === 'plans',
  },
  {
    name: 'a format (ContentFormat)',
    make: (_w, d, c, k) => entry(d, c, k, 'attributes', 'topic', new Y.ContentFormat('bold', true)),
    absent: () => (doc) => map(doc, 'attributes').get('topic') === 'plans',
  },
  {
    name: 'a GC struct',
    make: (_w, _d, c, k) => new Y.GC(Y.createID(c, k), 1),
    absent: () => (doc) => map(doc, 'attributes').get('topic') === 'plans',
  },
]

/** Mallory's read slot: a key she may write (and delete), so a struct there is judged harmless. */
const ownSlot = (client: number) => ({ parent: 'reads', parentSub: `mallory\n${client}` })
/** An item arriving already deleted, `length` long, under her own read slot: it binds `client`. */
const hugeDeleted = (client: number, clock: number, length: number) =>
  item({ client, clock, ...ownSlot(client), content: new Y.ContentDeleted(length) })

describe('clocks and lengths out of range are refused', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  const refused = (w: World, m: RawClient, update: Uint8Array, rule: string, absent?: (doc: Y.Doc) => boolean) =>
    expectRefused(w, m, () => m.sendUpdate(w.docName, update), rule, { absent })

  for (const length of [2 ** 53, 2 ** 53 - 1, 2 ** 60, MAX_CLOCK + 1]) {
    it(`binding a clientID with one deleted item ${length} long`, async () => {
      const w = await buildWorld(s)
      const m = await malloryIn(s, w)
      const c = freshClient()
      await refused(
        w,
        m,
        encodeUpdate([hugeDeleted(c, 0, length)]),
        'clock or length out of range',
        (doc) => Y.getState(doc.store, c) === 0 && !map(doc, 'clients').has(String(c)),
      )
    })
  }

  for (const payload of PAYLOADS) {
    it(`a huge deleted item, then ${payload.name}, in one update`, async () => {
      const w = await buildWorld(s)
      const m = await malloryIn(s, w)
      const d = m.doc(w.docName)
      const c = freshClient()
      const update = encodeUpdate([hugeDeleted(c, 0, 2 ** 53), payload.make(w, d, c, 2 ** 53)])
      await refused(w, m, update, 'clock or length out of range', payload.absent(w))
    })
  }

  it('a read-only participant trying the same', async () => {
    const w = await buildWorld(s, { malloryAccess: 'Read' })
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const c = freshClient()
    const payload = PAYLOADS[1]!
    const update = encodeUpdate([hugeDeleted(c, 0, 2 ** 53), payload.make(w, d, c, 2 ** 53)])
    await refused(w, m, update, 'clock or length out of range', payload.absent(w))
  })

  it('several structs: a harmless reaction, then the huge item and a forged message', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const c = freshClient()
    const reaction = item({
      client: c,
      clock: 0,
      parent: 'reactions',
      parentSub: `${w.first.sid}\nmallory\n👀`,
      content: [Date.now()],
    })
    const update = encodeUpdate([reaction, hugeDeleted(c, 1, 2 ** 53), PAYLOADS[0]!.make(w, d, c, 2 ** 53 + 1)])
    await refused(w, m, update, 'clock or length out of range', PAYLOADS[0]!.absent(w))
  })

  it('several clients: an honest one, and another holding the huge item', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const honest = item({
      client: freshClient(),
      clock: 0,
      ...ownSlot(1),
      content: [{ epoch: 0, index: null, at: 1, m: null }],
    })
    const c = freshClient()
    const update = encodeUpdate([honest, hugeDeleted(c, 0, 2 ** 53), PAYLOADS[1]!.make(w, d, c, 2 ** 53)])
    await refused(w, m, update, 'clock or length out of range', PAYLOADS[1]!.absent(w))
  })

  for (const clock of [2 ** 53, 2 ** 53 - 1, MAX_CLOCK]) {
    it(`a struct of a new clientID that starts at ${clock}`, async () => {
      const w = await buildWorld(s)
      const m = await malloryIn(s, w)
      const forged = PAYLOADS[0]!.make(w, m.doc(w.docName), freshClient(), clock)
      await refused(w, m, encodeUpdate([forged]), 'clock or length out of range', PAYLOADS[0]!.absent(w))
    })
  }

  it('a struct of her bound clientID that starts at a huge clock', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    m.sendUpdate(
      w.docName,
      m.forge(w.docName, (doc) =>
        map(doc, 'reads').set(`mallory\n${doc.clientID}`, { epoch: 0, index: null, at: 1, m: null }),
      ),
    )
    await waitUntil(
      () => w.relay.metrics.updatesApplied > 0 && Y.getState(w.conv._doc.doc.store, d.clientID) > 0,
      'her write is applied',
    )
    const forged = PAYLOADS[0]!.make(w, d, d.clientID, 2 ** 53)
    await refused(w, m, encodeUpdate([forged]), 'out of range', PAYLOADS[0]!.absent(w))
  })

  const deleteCases: Array<[string, (w: World, d: Y.Doc) => { client: number; clock: number; len: number }]> = [
    [
      'the whole of alice’s clientID and more',
      (_w, d) => ({ client: boundClientOf(d, 'alice'), clock: 0, len: 2 ** 53 }),
    ],
    ['a range ending past 2^53', (_w, d) => ({ client: boundClientOf(d, 'alice'), clock: 1, len: 2 ** 53 })],
    ['a range that starts at 2^53', (_w, d) => ({ client: boundClientOf(d, 'alice'), clock: 2 ** 53, len: 1 })],
    ['a range of length 2^53 - 1', (_w, d) => ({ client: boundClientOf(d, 'bob'), clock: 0, len: 2 ** 53 - 1 })],
  ]
  for (const [name, range] of deleteCases) {
    it(`in a delete set: ${name}`, async () => {
      const w = await buildWorld(s)
      const m = await malloryIn(s, w)
      const d = m.doc(w.docName)
      const harmless = item({
        client: freshClient(),
        clock: 0,
        ...ownSlot(2),
        content: [{ epoch: 0, index: null, at: 1, m: null }],
      })
      await refused(
        w,
        m,
        encodeUpdate([harmless], [range(w, d)]),
        'delete range out of range',
        (doc) => map(doc, 'participants').has('alice') && map(doc, 'participants').has('bob'),
      )
    })
  }

  it('a huge deleted item in her own profile, then a field outside the schema', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const name = 'user/mallory'
    await m.sync(name)
    const c = freshClient()
    const update = encodeUpdate([
      item({
        client: c,
        clock: 0,
        parent: 'profile',
        parentSub: 'friendlyName',
        content: new Y.ContentDeleted(2 ** 53),
      }),
      item({ client: c, clock: 2 ** 53, parent: 'profile', parentSub: 'isAdmin', content: [true] }),
    ])
    const rejected = w.relay.metrics.rejections.get('update_rejected') ?? 0
    m.sendUpdate(name, update)
    const closed = await m.waitClosed()
    expect(closed.code).toBe(UPDATE_REJECTED)
    expect(closed.reason).toContain('clock or length out of range')
    expect(w.relay.metrics.rejections.get('update_rejected')).toBe(rejected + 1)
    const live = (await w.relay.core._load(name)!).doc
    expect(live.getMap('profile').has('isAdmin')).toBe(false)
    expect(Y.getState(live.store, c)).toBe(0)
  })
})

describe('near the bound, everything is still judged', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('a clientID bound with a deleted item up to MAX_CLOCK - 1: a forged message after it is refused by its rule', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const c = freshClient()
    m.sendUpdate(w.docName, encodeUpdate([hugeDeleted(c, 0, MAX_CLOCK - 1)]))
    await waitUntil(() => Y.getState(w.conv._doc.doc.store, c) === MAX_CLOCK - 1, 'alice has the bound clientID')
    const forged = PAYLOADS[0]!.make(w, d, c, MAX_CLOCK - 1)
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate([forged])),
      'a message must be written by its author',
      {
        absent: PAYLOADS[0]!.absent(w),
      },
    )
  })

  it('…and one past MAX_CLOCK is out of range', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const c = freshClient()
    m.sendUpdate(w.docName, encodeUpdate([hugeDeleted(c, 0, MAX_CLOCK)]))
    await waitUntil(() => Y.getState(w.conv._doc.doc.store, c) === MAX_CLOCK, 'alice has the bound clientID')
    const forged = PAYLOADS[0]!.make(w, d, c, MAX_CLOCK)
    await expectRefused(w, m, () => m.sendUpdate(w.docName, encodeUpdate([forged])), 'clock or length out of range', {
      absent: PAYLOADS[0]!.absent(w),
    })
  })
})

describe('one client in several groups of an update', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  for (const payload of PAYLOADS.slice(0, 4)) {
    it(`a harmless group, then ${payload.name} under the same clocks`, async () => {
      // Yjs keeps only the last group of a client; the validator used to judge both, and the
      // second one, under clocks the first had "already" brought, passed as a repeat.
      const w = await buildWorld(s)
      const m = await malloryIn(s, w)
      const d = m.doc(w.docName)
      const c = freshClient()
      const harmless = item({
        client: c,
        clock: 0,
        ...ownSlot(c),
        content: [{ epoch: 0, index: null, at: 1, m: null }],
      })
      const update = encodeGroups([[harmless], [payload.make(w, d, c, 0)]])
      await expectRefused(w, m, () => m.sendUpdate(w.docName, update), 'a client appears twice in the update', {
        absent: payload.absent(w),
      })
    })
  }

  it('a harmless group, then a group that continues it', async () => {
    // Yjs would keep the second group pending (its start never arrives): judged now, applied later.
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const c = freshClient()
    const harmless = item({ client: c, clock: 0, ...ownSlot(c), content: [{ epoch: 0, index: null, at: 1, m: null }] })
    const update = encodeGroups([[harmless], [PAYLOADS[1]!.make(w, d, c, 1)]])
    await expectRefused(w, m, () => m.sendUpdate(w.docName, update), 'a client appears twice in the update', {
      absent: PAYLOADS[1]!.absent(w),
    })
  })
})
