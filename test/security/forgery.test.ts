/**
 * Forged writes against a real relay. Alice (creator, admin) and bob (member) use the real colloquy
 * client; mallory is a member (or a read-only participant) who speaks the wire protocol directly:
 * she syncs the conversation into her own Yjs replica, crafts a malicious transaction on it (or
 * hand-encodes an update no Yjs API would produce) and sends it.
 *
 * Every test asserts: mallory is closed with 4422 and a reason naming the rule; the relay's stored
 * and live state did not change; alice and bob never saw the forged change; the relay still serves
 * (alice sends, bob receives).
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Conversation } from '../../src/index.ts'
import { type ParticipantRecord, participantRecord } from '../../src/schema/layout.ts'
import {
  boundClientOf,
  buildWorld,
  expectRefused,
  malloryIn,
  observedState,
  Scope,
  storedDoc,
  UPDATE_REJECTED,
  type World,
  waitFor,
  waitUntil,
} from './helpers.ts'
import { currentItem, encodeUpdate, item, type RawClient } from './raw-client.ts'

const text = (t: string) => [{ type: 'text', text: t }]
const messageRecord = (id: string, author: string, extra: Record<string, unknown> = {}) => ({
  id,
  author,
  participantSid: null,
  content: text(`forged by ${author}`),
  attributes: {},
  replyTo: null,
  createdAt: Date.now(),
  ...extra,
})
const participant = (w: World, key: string, extra: Partial<ParticipantRecord> = {}): ParticipantRecord => ({
  ...participantRecord(w.conv.sid, key, { at: Date.now(), addedBy: 'mallory', membership: 'feedface' }),
  ...extra,
})
const map = (doc: Y.Doc, root: string) => doc.getMap<unknown>(root)

describe('forged writes are refused with 4422 and change nothing', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  /** Mallory forges `fn` on her replica and sends it; the relay must refuse it for `rule`. */
  const refuses = async (
    w: World,
    m: RawClient,
    fn: (doc: Y.Doc) => void,
    rule: string,
    absent?: (doc: Y.Doc) => boolean,
  ) => {
    const update = m.forge(w.docName, fn)
    await expectRefused(w, m, () => m.sendUpdate(w.docName, update), rule, { absent })
  }

  it('a message whose author is alice', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'messages').set('IMforged1', messageRecord('IMforged1', 'alice')),
      'a message must be written by its author',
      (d) => !map(d, 'messages').has('IMforged1'),
    )
  })

  it('a message of her own that names alice’s participant sid', async () => {
    // Twilio-style apps resolve a sender with getParticipantBySid(message.participantSid).
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const aliceSid = (await w.conv.getParticipantByIdentity('alice')).sid
    await refuses(
      w,
      m,
      (d) => map(d, 'messages').set('IMforged3', messageRecord('IMforged3', 'mallory', { participantSid: aliceSid })),
      "participantSid must be the author's",
      (d) => !map(d, 'messages').has('IMforged3'),
    )
  })

  it('an edit of alice’s message body', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) =>
        map(d, 'edits').set(w.first.sid, { content: text('alice never said this'), by: 'mallory', at: Date.now() }),
      'only the author may edit a message',
      (d) => !map(d, 'edits').has(w.first.sid),
    )
    expect(w.first.body).toBe('hello from alice')
  })

  it('an edit of alice’s message that claims to be by alice', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'edits').set(w.first.sid, { content: text('alice never said this'), by: 'alice', at: Date.now() }),
      'malformed edit',
      (d) => !map(d, 'edits').has(w.first.sid),
    )
  })

  it('deleting alice’s message as a member', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'messages').delete(w.first.sid),
      'only the author or a moderator may remove a message',
      (d) => map(d, 'messages').has(w.first.sid),
    )
  })

  it('deleting alice’s reaction', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const key = `${w.first.sid}\nalice\n🎉`
    expect(map(m.doc(w.docName), 'reactions').has(key)).toBe(true)
    await refuses(
      w,
      m,
      (d) => map(d, 'reactions').delete(key),
      'reactions are per person',
      (d) => map(d, 'reactions').has(key),
    )
  })

  it('adding a reaction in alice’s name', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const key = `${w.first.sid}\nalice\n💩`
    await refuses(
      w,
      m,
      (d) => map(d, 'reactions').set(key, Date.now()),
      'reactions are per person',
      (d) => !map(d, 'reactions').has(key),
    )
  })

  it('writing alice’s read horizon', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const reads = map(m.doc(w.docName), 'reads')
    const key = [...reads.keys()].find((k) => k.startsWith('alice\n'))!
    expect(key).toBeDefined()
    const slot = reads.get(key) as { epoch: number; m: string | null }
    await refuses(
      w,
      m,
      (d) => map(d, 'reads').set(key, { epoch: slot.epoch + 1, index: null, at: Date.now(), m: slot.m }),
      'read state is per person',
      (d) => (map(d, 'reads').get(key) as { index: number | null }).index === w.first.index,
    )
  })

  it('writing alice’s notification level', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'prefs').set('alice\nnotificationLevel', 'default'),
      'preferences are per person',
      (d) => map(d, 'prefs').get('alice\nnotificationLevel') === 'muted',
    )
    expect(w.conv.notificationLevel).toBe('muted')
  })

  it('a stamps entry (a fake index)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'stamps').set(w.first.sid, { i: 4242, t: 1 }),
      'only the relay stamps messages',
      (d) => (map(d, 'stamps').get(w.first.sid) as { i: number }).i === w.first.index,
    )
  })

  it('promoting herself to admin', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const mine = map(m.doc(w.docName), 'participants').get('mallory') as ParticipantRecord
    await refuses(
      w,
      m,
      (d) => map(d, 'participants').set('mallory', { ...mine, role: 'admin', dateUpdated: Date.now() }),
      'participants may not change their own role or access',
      (d) => (map(d, 'participants').get('mallory') as ParticipantRecord).role === 'member',
    )
  })

  it('adding a participant as a member', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'participants').set('eve', participant(w, 'eve')),
      'not allowed to add this participant',
      (d) => !map(d, 'participants').has('eve'),
    )
  })

  it('adding a participant in alice’s name', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'participants').set('eve', participant(w, 'eve', { addedBy: 'alice' })),
      'addedBy must be the writer',
      (d) => !map(d, 'participants').has('eve'),
    )
  })

  it('removing alice', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'participants').delete('alice'),
      'not allowed to remove this participant',
      (d) => map(d, 'participants').has('alice'),
    )
  })

  it('renaming the conversation as a member', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'meta').set('friendlyName', { v: 'pwned', at: Date.now(), by: 'mallory' }),
      'only admins may change the conversation',
      (d) => (map(d, 'meta').get('friendlyName') as { v: string }).v === 'team',
    )
    expect(w.bconv.friendlyName).toBe('team')
  })

  it('changing the conversation’s attributes as a member', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'attributes').set('topic', 'pwned'),
      'only admins may change the conversation',
      (d) => map(d, 'attributes').get('topic') === 'plans',
    )
  })

  it('removing a conversation attribute as a member', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'attributes').delete('topic'),
      'only admins may change the conversation',
      (d) => map(d, 'attributes').get('topic') === 'plans',
    )
  })

  it('deleting the conversation as a member', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'meta').set('deleted', { v: true, at: Date.now(), by: 'mallory' }),
      'only admins may change the conversation',
      (d) => !map(d, 'meta').has('deleted'),
    )
    expect(w.bconv.isDeleted).toBe(false)
  })

  it('a read-only participant sending a message', async () => {
    const w = await buildWorld(s, { malloryAccess: 'Read' })
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'messages').set('IMforged2', messageRecord('IMforged2', 'mallory')),
      'read-only participants may not send',
      (d) => !map(d, 'messages').has('IMforged2'),
    )
  })

  it('a participant demoted to read-only editing her own message', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    // While she may write, mallory sends a valid message of her own: it is accepted and stamped.
    const bobSees = waitFor<{ body: string | null }>(w.bconv, 'messageAdded', (x) => x.body === 'mine, legitimately')
    m.sendUpdate(
      w.docName,
      m.forge(w.docName, (d) =>
        map(d, 'messages').set(
          'IMmallory1',
          messageRecord('IMmallory1', 'mallory', { content: text('mine, legitimately') }),
        ),
      ),
    )
    await bobSees
    await waitUntil(() => map(m.doc(w.docName), 'stamps').has('IMmallory1'), 'mallory’s message is stamped')
    // Alice makes her read-only; mallory's replica hears of it.
    await (await w.conv.getParticipantByIdentity('mallory')).updateAccess('Read')
    await waitUntil(
      () => (map(m.doc(w.docName), 'participants').get('mallory') as ParticipantRecord).access === 'Read',
      'mallory’s replica sees her read-only access',
    )
    await w.relay.core.flush()
    await refuses(
      w,
      m,
      (d) => map(d, 'edits').set('IMmallory1', { content: text('rewritten'), by: 'mallory', at: Date.now() }),
      'read-only participants may not edit',
      (d) => !map(d, 'edits').has('IMmallory1'),
    )
  })

  it('an unknown root', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'evil').set('k', 1),
      'unknown root evil',
      (d) => !d.share.has('evil'),
    )
  })

  it('an unknown meta key', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'meta').set('owner', { v: 'mallory', at: Date.now(), by: 'mallory' }),
      'unknown conversation field owner',
      (d) => !map(d, 'meta').has('owner'),
    )
  })

  it('a message whose content is not an array', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => map(d, 'messages').set('IMbad1', messageRecord('IMbad1', 'mallory', { content: 'just a string' })),
      'invalid message content',
      (d) => !map(d, 'messages').has('IMbad1'),
    )
  })

  it('a read horizon whose index is a string', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const key = `mallory\n${m.doc(w.docName).clientID}`
    await refuses(
      w,
      m,
      (d) => map(d, 'reads').set(key, { epoch: 0, index: '0', at: Date.now(), m: null }),
      'malformed read state',
      (d) => !map(d, 'reads').has(key),
    )
  })

  it('message attributes over 16 KiB', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) =>
        map(d, 'messages').set(
          'IMbig1',
          messageRecord('IMbig1', 'mallory', { attributes: { blob: 'x'.repeat(16 * 1024 + 1) } }),
        ),
      'invalid message attributes',
      (d) => !map(d, 'messages').has('IMbig1'),
    )
  })

  it('her own participant attributes over 16 KiB', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const mine = map(m.doc(w.docName), 'participants').get('mallory') as ParticipantRecord
    await refuses(
      w,
      m,
      (d) => map(d, 'participants').set('mallory', { ...mine, attributes: { blob: 'x'.repeat(16 * 1024 + 1) } }),
      'invalid participant attributes',
      (d) => JSON.stringify((map(d, 'participants').get('mallory') as ParticipantRecord).attributes) === '{}',
    )
  })

  it('a message body over 32 KiB', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) =>
        map(d, 'messages').set(
          'IMbig2',
          messageRecord('IMbig2', 'mallory', { content: text('y'.repeat(32 * 1024 + 1)) }),
        ),
      'invalid message content',
      (d) => !map(d, 'messages').has('IMbig2'),
    )
  })

  it('a message carrying an extra field past the size limits', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) =>
        map(d, 'messages').set('IMextra1', messageRecord('IMextra1', 'mallory', { payload: 'p'.repeat(100 * 1024) })),
      'malformed message',
      (d) => !map(d, 'messages').has('IMextra1'),
    )
  })

  it('a content block carrying an extra field', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) =>
        map(d, 'messages').set(
          'IMextra2',
          messageRecord('IMextra2', 'mallory', { content: [{ type: 'text', text: 'hi', hidden: 'q'.repeat(40_000) }] }),
        ),
      'invalid message content',
      (d) => !map(d, 'messages').has('IMextra2'),
    )
  })

  it('a message id (map key) of 4,000 characters', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const id = `IM${'k'.repeat(4000)}`
    await refuses(
      w,
      m,
      (d) => map(d, 'messages').set(id, messageRecord(id, 'mallory')),
      'key too long',
      (d) => ![...map(d, 'messages').keys()].some((k) => k.length > 100),
    )
  })

  it('her own read slot and participant record carrying extra fields', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const key = `mallory\n${m.doc(w.docName).clientID}`
    await refuses(
      w,
      m,
      (d) => map(d, 'reads').set(key, { epoch: 0, index: null, at: 1, m: null, junk: 'j'.repeat(1000) }),
      'malformed read state',
      (d) => !map(d, 'reads').has(key),
    )
    const m2 = await malloryIn(s, w)
    const mine = map(m2.doc(w.docName), 'participants').get('mallory') as ParticipantRecord
    await refuses(
      w,
      m2,
      (d) => map(d, 'participants').set('mallory', { ...mine, junk: 'j'.repeat(1000) }),
      'malformed participant',
      (d) => !('junk' in (map(d, 'participants').get('mallory') as object)),
    )
  })

  it('a nested Y.Map as a value', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    await refuses(
      w,
      m,
      (d) => {
        const nested = new Y.Map<unknown>()
        map(d, 'messages').set('IMnested', nested)
        nested.set('author', 'alice')
      },
      'only plain JSON values are part of the schema',
      (d) => !map(d, 'messages').has('IMnested'),
    )
  })

  it('a Y.Text as a value', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const key = `mallory\n${m.doc(w.docName).clientID}`
    await refuses(
      w,
      m,
      (d) => map(d, 'reads').set(key, new Y.Text('not json')),
      'only plain JSON values are part of the schema',
      (d) => !map(d, 'reads').has(key),
    )
  })

  it('an item whose parent is a nested type (hand-encoded)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const target = currentItem(d, 'messages', w.first.sid)!
    const forged = item({ client: d.clientID, clock: 0, parent: target.id, parentSub: 'author', content: ['mallory'] })
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate([forged])),
      'nested types are not part of the schema',
    )
  })

  it('reusing alice’s Yjs clientID', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const replica = m.doc(w.docName)
    const aliceId = boundClientOf(replica, 'alice')
    // A doc of her own that continues alice's clock: the write itself (mallory's own reaction)
    // would be allowed under mallory's own clientID.
    const impostor = new Y.Doc()
    Y.applyUpdate(impostor, Y.encodeStateAsUpdate(replica))
    // Set after the state is in: Yjs picks a new clientID when a remote update touches its own.
    impostor.clientID = aliceId
    const captured: Uint8Array[] = []
    impostor.on('update', (u: Uint8Array) => captured.push(u))
    const key = `${w.first.sid}\nmallory\n👀`
    map(impostor, 'reactions').set(key, Date.now())
    expect(Y.decodeUpdate(captured[0]!).structs.every((st) => st.id.client === aliceId)).toBe(true)
    await expectRefused(w, m, () => m.sendUpdate(w.docName, captured[0]!), 'client id belongs to another identity', {
      absent: (doc) => !map(doc, 'reactions').has(key),
    })
    impostor.destroy()
  })

  it('an update that builds on structs the relay does not have (gap in the writer’s clock)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    // Two updates of her own; she sends only the second, which continues a clock the relay never saw.
    m.forge(w.docName, (doc) => map(doc, 'reactions').set(`${w.first.sid}\nmallory\n1️⃣`, Date.now()))
    const second = m.forge(w.docName, (doc) => map(doc, 'reactions').set(`${w.first.sid}\nmallory\n2️⃣`, Date.now()))
    expect(Y.decodeUpdate(second).structs[0]!.id).toMatchObject({ client: d.clientID, clock: 1 })
    await expectRefused(w, m, () => m.sendUpdate(w.docName, second), 'update references unknown structs', {
      absent: (doc) => ![...map(doc, 'reactions').keys()].some((k) => k.includes('\nmallory\n')),
    })
  })

  it('an item whose origin does not exist (hand-encoded)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const aliceId = boundClientOf(d, 'alice')
    const forged = item({ client: d.clientID, clock: 0, origin: Y.createID(aliceId, 1_000_000), content: [1] })
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate([forged])),
      'update references unknown structs',
    )
  })

  it('a delete of structs that do not exist (hand-encoded)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const aliceId = boundClientOf(m.doc(w.docName), 'alice')
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate([], [{ client: aliceId, clock: 1_000_000, len: 3 }])),
      'delete references unknown structs',
    )
  })

  it('writing to alice’s inbox is denied (she cannot even read it) and stores nothing', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const name = 'inbox/alice'
    await w.relay.core.flush()
    const before = await storedDoc(w.storage, name)
    const fake = new Y.Doc()
    const captured: Uint8Array[] = []
    fake.on('update', (u: Uint8Array) => captured.push(u))
    fake.getMap('conversations').set('CHfake', { sid: 'CHfake', friendlyName: 'click me' })
    const denied = m.denied(name)
    m.sendUpdate(name, captured[0]!)
    expect(await denied).toBe('not a participant')
    await m.roundTrip('user/mallory')
    expect(m.isOpen).toBe(true)
    await w.relay.core.flush()
    const after = await storedDoc(w.storage, name)
    expect(after.getMap('conversations').has('CHfake')).toBe(false)
    // (The relay refreshes inbox entries on its own timer: compare which conversations are listed.)
    expect([...after.getMap('conversations').keys()]).toEqual([...before.getMap('conversations').keys()])
    before.destroy()
    after.destroy()
    fake.destroy()
  })

  it('writing to her own inbox (written by the relay only)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const name = 'inbox/mallory'
    await m.sync(name)
    const update = m.forge(name, (d) => d.getMap('conversations').set('CHfake', { sid: 'CHfake' }))
    await expectRefused(w, m, () => m.sendUpdate(name, update), 'this document is read-only for you', {
      docName: name,
      // The relay itself refreshes inbox entries on a timer: compare which conversations are listed.
      project: (st) => [
        Object.keys(st.stored.content.conversations ?? {}),
        Object.keys(st.live.content.conversations ?? {}),
      ],
    })
    const stored = await storedDoc(w.storage, name)
    expect(stored.getMap('conversations').has('CHfake')).toBe(false)
    stored.destroy()
  })

  it('writing alice’s profile (user/alice)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const name = 'user/alice'
    await m.sync(name)
    const update = m.forge(name, (d) => d.getMap('profile').set('friendlyName', 'alice (hacked)'))
    await expectRefused(w, m, () => m.sendUpdate(name, update), 'this document is read-only for you', {
      docName: name,
    })
    const stored = await storedDoc(w.storage, name)
    expect(stored.getMap('profile').get('friendlyName')).not.toBe('alice (hacked)')
    stored.destroy()
  })
})

describe('hand-encoded updates that Yjs would integrate differently from how they read', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('an item that arrives already deleted, placed after alice’s participant record, with no delete set', async () => {
    // Integrating it makes it the newest entry under "alice", which deletes her record.
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const target = currentItem(d, 'participants', 'alice')!
    const forged = item({ client: d.clientID, clock: 0, origin: target.lastId, content: new Y.ContentDeleted(1) })
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate([forged])),
      'not allowed to remove this participant',
      { absent: (doc) => map(doc, 'participants').has('alice') },
    )
  })

  it('an item that arrives already deleted, placed after alice’s message', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const target = currentItem(d, 'messages', w.first.sid)!
    const forged = item({ client: d.clientID, clock: 0, origin: target.lastId, content: new Y.ContentDeleted(1) })
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate([forged])),
      'only the author or a moderator may remove a message',
      { absent: (doc) => map(doc, 'messages').has(w.first.sid) },
    )
  })

  it('a zero-length item (skipped as a repeat, yet integrated by Yjs) next to a harmless write', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    const aliceId = boundClientOf(d, 'alice')
    const target = currentItem(d, 'participants', 'bob')!
    const zero = item({
      client: aliceId,
      clock: Y.getState(d.store, aliceId),
      origin: target.lastId,
      content: new Y.ContentAny([]),
    })
    const harmless = item({
      client: d.clientID,
      clock: 0,
      parent: 'reactions',
      parentSub: `${w.first.sid}\nmallory\n👀`,
      content: [Date.now()],
    })
    await expectRefused(w, m, () => m.sendUpdate(w.docName, encodeUpdate([zero, harmless])), 'empty', {
      absent: (doc) => map(doc, 'participants').get('bob') !== undefined,
    })
  })

  it('an item overlapping the writer’s own last struct is judged where Yjs puts it, not where its origin says', async () => {
    // Mallory, an admin for a while, renames the conversation; alice demotes her to member. Her
    // rename is the last struct under her clientID. She then sends an item that starts one clock
    // earlier (overlapping it) and claims a place among her own reactions: Yjs integrates only the
    // new tail, right after her rename, and deletes the rename — a change members may not make.
    const w = await buildWorld(s)
    await (await w.conv.getParticipantByIdentity('mallory')).updateRole('admin')
    const m = await malloryIn(s, w)
    const d = m.doc(w.docName)
    await waitUntil(
      () => (map(d, 'participants').get('mallory') as ParticipantRecord).role === 'admin',
      'mallory sees herself admin',
    )
    const reactionKey = `${w.first.sid}\nmallory\n👀`
    const renamed = waitFor<{ conversation: Conversation }>(w.bconv, 'updated', () => w.bconv.friendlyName === 'mine')
    m.sendUpdate(
      w.docName,
      m.forge(w.docName, (doc) => {
        map(doc, 'reactions').set(reactionKey, 1)
      }),
    )
    m.sendUpdate(
      w.docName,
      m.forge(w.docName, (doc) => map(doc, 'meta').set('friendlyName', { v: 'mine', at: Date.now(), by: 'mallory' })),
    )
    await renamed
    await (await w.conv.getParticipantByIdentity('mallory')).updateRole('member')
    await waitUntil(
      () => (map(d, 'participants').get('mallory') as ParticipantRecord).role === 'member',
      'mallory sees herself member again',
    )
    await w.relay.core.flush()
    const rename = currentItem(d, 'meta', 'friendlyName')!
    expect(rename.id.client).toBe(d.clientID)
    const known = Y.getState(d.store, d.clientID)
    expect(rename.id.clock).toBe(known - 1)
    const reaction = currentItem(d, 'reactions', reactionKey)!
    const forged = item({
      client: d.clientID,
      clock: known - 1,
      origin: reaction.lastId,
      content: new Y.ContentAny([2, 3]),
    })
    await expectRefused(w, m, () => m.sendUpdate(w.docName, encodeUpdate([forged])), 'overlaps', {
      absent: (doc) => (map(doc, 'meta').get('friendlyName') as { v: string } | undefined)?.v === 'mine',
    })
    expect(w.bconv.friendlyName).toBe('mine')
  })
})

describe('claiming clientIDs in bulk', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('GC structs (a few bytes each, every one a new clientID bound for good)', async () => {
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const structs = Array.from({ length: 1000 }, (_, i) => new Y.GC(Y.createID(7_000_000 + i, 0), 1))
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate(structs)),
      'garbage-collected structs are not part of the schema',
      { absent: (doc) => !map(doc, 'clients').has('7000000') },
    )
  })

  it('more new clientIDs in one update than any honest device has', async () => {
    // Each item alone is allowed (her own read slot under a new clientID of hers).
    const w = await buildWorld(s)
    const m = await malloryIn(s, w)
    const items = Array.from({ length: 200 }, (_, i) =>
      item({
        client: 8_000_000 + i,
        clock: 0,
        parent: 'reads',
        parentSub: `mallory\n${8_000_000 + i}`,
        content: [{ epoch: 0, index: null, at: 1, m: null }],
      }),
    )
    await expectRefused(
      w,
      m,
      () => m.sendUpdate(w.docName, encodeUpdate(items)),
      'too many new client ids in one update',
      { absent: (doc) => !map(doc, 'clients').has('8000000') && !map(doc, 'reads').has('mallory\n8000000') },
    )
  })
})

describe('a refused writer is cut off, and only them', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('other connections of the same attacker and every honest client keep working', async () => {
    const w = await buildWorld(s)
    const m1 = await malloryIn(s, w)
    const m2 = await malloryIn(s, w)
    const update = m1.forge(w.docName, (d) => map(d, 'participants').delete('alice'))
    const before = await observedState(w.relay, w.storage, w.docName)
    m1.sendUpdate(w.docName, update)
    expect((await m1.waitClosed()).code).toBe(UPDATE_REJECTED)
    // Her other socket was not the one that misbehaved: it stays open and keeps receiving.
    await m2.roundTrip('user/mallory')
    expect(m2.isOpen).toBe(true)
    expect(await observedState(w.relay, w.storage, w.docName)).toEqual(before)
    const heard = waitUntil(
      () => [...map(m2.doc(w.docName), 'messages').values()].some((x) => JSON.stringify(x).includes('after m1')),
      'mallory’s other socket hears alice',
    )
    await w.conv.sendMessage('after m1')
    await heard
  })
})
