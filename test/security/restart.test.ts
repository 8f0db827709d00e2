/**
 * The rules live in the stored document, not in the relay's memory: after the relay is closed and a
 * new one is started on the same SQLite file, a clientID stays bound to the identity that wrote with
 * it, and a member is still only a member.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Relay } from '../../relay/index.ts'
import type { Conversation, Message } from '../../src/index.ts'
import { type ParticipantRecord, participantRecord } from '../../src/schema/layout.ts'
import { createSqliteStorage } from '../../src/storage/sqlite.ts'
import { listed } from '../support/wait.ts'
import { boundClientOf, contentOf, Scope, storedDoc, UPDATE_REJECTED, waitFor, waitUntil } from './helpers.ts'

describe('rules survive a relay restart on the same SQLite file', () => {
  const s = new Scope()
  afterEach(() => s.cleanup())

  it('a clientID binding and a member’s role still hold after the restart', async () => {
    const path = join(s.tmpdir(), 'relay.sqlite')

    // First life of the relay: alice creates a conversation, adds bob and mallory (member), writes.
    const storage1 = createSqliteStorage({ path })
    const { relay: relay1 } = await s.relay({ storage: storage1 })
    const alice1 = await s.client('alice', relay1.url)
    const bob1 = await s.client('bob', relay1.url)
    const bobAdded = waitFor<Conversation>(bob1, 'conversationAdded')
    const conv = await alice1.createConversation({ friendlyName: 'durable', join: true })
    await conv.add('bob')
    await conv.add('mallory')
    const bconv = await bobAdded
    const got = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'before the restart')
    const sent = await conv.sendMessage('before the restart')
    await got
    await waitUntil(() => sent.index !== null, 'the message is sequenced')
    const docName = `conv/${conv.sid}`
    await relay1.core.flush()
    const aliceId = boundClientOf((await relay1.core._load(docName)!).doc, 'alice')
    await alice1.shutdown()
    await bob1.shutdown()
    await relay1.close()
    await storage1.close()

    // Second life, same file.
    const storage2 = createSqliteStorage({ path })
    s.defer(() => storage2.close())
    const { relay: relay2 } = await s.relay({ storage: storage2 })
    // Loading the document binds the new relay's own clientID; the state after that is the baseline.
    await relay2.core._load(docName)
    await relay2.core.flush()
    const before = contentOf(await storedDoc(storage2, docName))
    expect((before.clients as Record<string, string>)[String(aliceId)]).toBe('alice')

    const refusedAfterRestart = async (relay: Relay, forge: (replica: Y.Doc) => Uint8Array, rule: string) => {
      const m = await s.raw(relay.url, 'mallory')
      const replica = await m.sync(docName)
      m.sendUpdate(docName, forge(replica))
      const closed = await m.waitClosed()
      expect(closed.code).toBe(UPDATE_REJECTED)
      expect(closed.reason).toContain(rule)
    }

    // Mallory reuses alice's clientID (her own reaction, which she may write under her own clientID).
    const reactionKey = `${sent.sid}\nmallory\n👀`
    await refusedAfterRestart(
      relay2,
      (replica) => {
        const impostor = new Y.Doc()
        Y.applyUpdate(impostor, Y.encodeStateAsUpdate(replica))
        impostor.clientID = aliceId
        const out: Uint8Array[] = []
        impostor.on('update', (u: Uint8Array) => out.push(u))
        impostor.getMap('reactions').set(reactionKey, Date.now())
        impostor.destroy()
        return out[0]!
      },
      'client id belongs to another identity',
    )

    // Mallory, still a member, adds eve.
    await refusedAfterRestart(
      relay2,
      (replica) => {
        const out: Uint8Array[] = []
        replica.on('update', (u: Uint8Array, origin: unknown) => {
          if (origin === 'forged') out.push(u)
        })
        const now = Date.now()
        const eve: ParticipantRecord = participantRecord(conv.sid, 'eve', {
          at: now,
          addedBy: 'mallory',
          membership: 'cafebabe',
        })
        Y.transact(replica, () => replica.getMap('participants').set('eve', eve), 'forged')
        return out[0]!
      },
      'not allowed to add this participant',
    )

    // ... nor promote herself.
    await refusedAfterRestart(
      relay2,
      (replica) => {
        const out: Uint8Array[] = []
        replica.on('update', (u: Uint8Array, origin: unknown) => {
          if (origin === 'forged') out.push(u)
        })
        const mine = replica.getMap<ParticipantRecord>('participants').get('mallory')!
        Y.transact(replica, () => replica.getMap('participants').set('mallory', { ...mine, role: 'admin' }), 'forged')
        return out[0]!
      },
      'participants may not change their own role or access',
    )

    await relay2.core.flush()
    expect(contentOf(await storedDoc(storage2, docName))).toEqual(before)

    // The honest users, on fresh devices, still sync and talk through the restarted relay.
    const alice2 = await s.client('alice', relay2.url)
    const bob2 = await s.client('bob', relay2.url)
    const synced = async (c: typeof alice2) => {
      const found = await listed(c, conv.sid, 'the conversation is listed')
      await c.whenSynced()
      return found
    }
    const [aconv2, bconv2] = await Promise.all([synced(alice2), synced(bob2)])
    const bobGets = waitFor<Message>(bconv2, 'messageAdded', (m) => m.body === 'after the restart')
    await aconv2.sendMessage('after the restart')
    const after = await bobGets
    await waitUntil(() => after.index !== null && after.index > sent.index!, 'sequenced after the first')
    expect(bconv2._doc.reactions.has(reactionKey)).toBe(false)
    expect(bconv2._doc.participants.has('eve')).toBe(false)
    expect(bconv2._doc.participants.get('mallory')?.role).toBe('member')
  })
})
