/**
 * Relay rules added after the first adversarial pass: a conversation's creation reaches nobody who
 * asked for it early, profile documents accept only their fields, a conversation's attributes stay
 * within their total size, and a moderator's hide cannot rewrite anyone's message.
 */
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { ConversationDocument, hiddenKey, participantRecord } from '../../src/schema/layout.ts'
import { buildWorld, expectRefused, malloryIn, Scope, UPDATE_REJECTED, waitUntil } from './helpers.ts'

/** Writes a conversation's creation (meta and the creator as admin) into a raw replica. */
const create = (doc: Y.Doc, sid: string, identity: string): void => {
  const conv = new ConversationDocument(doc)
  const now = Date.now()
  conv.set('sid', sid, identity, now)
  conv.set('createdBy', identity, identity, now)
  conv.set('dateCreated', now, identity, now)
  conv.set('friendlyName', 'top secret', identity, now)
  conv.participants.set(
    identity,
    participantRecord(sid, identity, { at: now, addedBy: identity, membership: 'm1', role: 'admin' }),
  )
}

/** Whether a raw connection is still open (its `closed` promise has not settled). */
const stillOpen = async (c: { closed: Promise<unknown> }): Promise<boolean> =>
  (await Promise.race([c.closed.then(() => false), Promise.resolve(true)])) as boolean

describe('relay rules', () => {
  const sc = new Scope()
  afterEach(() => sc.cleanup())

  it('whoever subscribes to a conversation before it exists receives nothing of its creation', async () => {
    const { relay } = await sc.relay()
    const sid = `CH${'ab'.repeat(16)}`
    const docName = `conv/${sid}`
    // Eve learned the sid in advance and asks for it before it exists.
    const eve = await sc.raw(relay.url, 'eve')
    await eve.sync(docName)
    const alice = await sc.raw(relay.url, 'alice')
    await alice.sync(docName)
    const denied = eve.denied(docName)
    alice.sendUpdate(
      docName,
      alice.forge(docName, (d) => create(d, sid, 'alice')),
    )
    expect(await denied).toBeTruthy()
    // The creation was applied (alice is served) but none of it reached eve.
    await waitUntil(async () => {
      const live = await relay.core._load(docName)
      return live?.conv?.exists === true
    }, 'the conversation exists on the relay')
    const evesCopy = new ConversationDocument(eve.doc(docName))
    expect(evesCopy.meta.size).toBe(0)
    expect(evesCopy.participants.size).toBe(0)
  })

  it('a profile document takes only its own fields, typed and within limits', async () => {
    const { relay } = await sc.relay()
    const honest = await sc.raw(relay.url, 'mallory')
    const mine = 'user/mallory'
    await honest.sync(mine)
    honest.sendUpdate(
      mine,
      honest.forge(mine, (d) => d.getMap('profile').set('friendlyName', 'Mal')),
    )
    await honest.roundTrip(mine)
    expect(await stillOpen(honest)).toBe(true)
    for (const [key, value, rule] of [
      ['isAdmin', true, 'unknown profile field'],
      ['friendlyName', 'x'.repeat(300), 'invalid friendlyName'],
      ['attributes', { blob: 'x'.repeat(20_000) }, 'invalid attributes'],
    ] as const) {
      const m = await sc.raw(relay.url, 'mallory')
      await m.sync(mine)
      m.sendUpdate(
        mine,
        m.forge(mine, (d) => d.getMap('profile').set(key, value)),
      )
      const closed = await m.waitClosed()
      expect(closed.code).toBe(UPDATE_REJECTED)
      expect(closed.reason).toContain(rule)
    }
  })

  it('conversation attributes are limited in total, not only per key', async () => {
    const sc2 = sc
    const w = await buildWorld(sc2)
    // Alice is the admin; her raw connection writes many keys, each small, together too large.
    const admin = await sc2.raw(w.relay.url, 'alice')
    await admin.sync(w.docName)
    await expectRefused(
      w,
      admin,
      () =>
        admin.sendUpdate(
          w.docName,
          admin.forge(w.docName, (d) => {
            for (let i = 0; i < 10; i++) d.getMap('attributes').set(`k${i}`, 'v'.repeat(2_000))
          }),
        ),
      'attributes exceed their size limit',
      { absent: (doc) => !doc.getMap('attributes').has('k0') },
    )
  })

  it("the relay's own clientID (the one its stamps carry) can never be a client's", async () => {
    const w = await buildWorld(sc)
    const m = await malloryIn(sc, w)
    const replica = m.doc(w.docName)
    const live = await w.relay.core._load(w.docName)
    const relayId = live!.doc.clientID
    // Mallory sees that clientID on the stamps; she continues its clock in a doc of her own.
    expect(replica.store.clients.has(relayId)).toBe(true)
    const impostor = new Y.Doc()
    Y.applyUpdate(impostor, Y.encodeStateAsUpdate(replica))
    impostor.clientID = relayId
    const captured: Uint8Array[] = []
    impostor.on('update', (u: Uint8Array) => captured.push(u))
    const key = `${w.first.sid}\nmallory\n🤖`
    impostor.getMap('reactions').set(key, Date.now())
    await expectRefused(w, m, () => m.sendUpdate(w.docName, captured[0]!), 'client id belongs', {
      absent: (doc) => !doc.getMap('reactions').has(key),
    })
    impostor.destroy()
  })

  it('a moderator may hide a message but not rewrite it, and a hide carries no content', async () => {
    const w = await buildWorld(sc)
    await (await w.conv.getParticipantByIdentity('mallory')).updateRole('moderator')
    await waitUntil(async () => {
      const d = await w.relay.core._load(w.docName)
      return d?.conv?.participants.get('mallory')?.role === 'moderator'
    }, 'the relay sees mallory as moderator')
    const id = w.first.sid
    const rewrite = await malloryIn(sc, w)
    await expectRefused(
      w,
      rewrite,
      () =>
        rewrite.sendUpdate(
          w.docName,
          rewrite.forge(w.docName, (d) =>
            d
              .getMap('edits')
              .set(id, { content: [{ type: 'text', text: 'alice says: I quit' }], by: 'mallory', at: 1 }),
          ),
        ),
      'only the author may edit a message',
      { absent: (doc) => !doc.getMap('edits').has(id) },
    )
    const smuggle = await malloryIn(sc, w)
    await expectRefused(
      w,
      smuggle,
      () =>
        smuggle.sendUpdate(
          w.docName,
          smuggle.forge(w.docName, (d) =>
            d.getMap('edits').set(hiddenKey(id), { by: 'mallory', at: 1, content: [{ type: 'text', text: 'forged' }] }),
          ),
        ),
      'malformed hide',
      { absent: (doc) => !doc.getMap('edits').has(hiddenKey(id)) },
    )
    // A plain hide is accepted, and bob sees the message empty.
    const hide = await malloryIn(sc, w)
    hide.sendUpdate(
      w.docName,
      hide.forge(w.docName, (d) => d.getMap('edits').set(hiddenKey(id), { by: 'mallory', at: 1 })),
    )
    const bobs = await w.bconv.getMessageBySid(id)
    await waitUntil(() => bobs.isHidden, 'bob sees the message hidden')
    expect(bobs.body).toBeNull()
    expect(await stillOpen(hide)).toBe(true)
  })
})
