/**
 * Removal cuts a participant off at the relay: after it, nothing of the conversation reaches
 * them, neither through their client nor through a raw socket that stays open.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket as WsSocket } from 'ws'
import * as Y from 'yjs'
import type { Conversation, Message } from '../../src/index.ts'
import { ConversationDocument } from '../../src/schema/layout.ts'
import { MessageType } from '../../src/sync/protocol.ts'
import {
  applySyncFrames,
  authenticatedRaw,
  deniedReason,
  frameInfo,
  Harness,
  syncStep1Frame,
  waitFor,
  waitUntil,
} from './helpers.ts'

describe('relay: removing a participant', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('a removed user stops receiving updates, even on an open socket, and their client emits conversationRemoved', async () => {
    const relay = await h.relay()
    const alice = await h.client('alice', { relayUrl: relay.url })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const carol = await h.client('carol', { relayUrl: relay.url })

    const bobAdded = waitFor<Conversation>(bob, 'conversationAdded')
    const carolAdded = waitFor<Conversation>(carol, 'conversationAdded')
    const conv = await alice.createConversation({ join: true })
    await conv.add('bob')
    await conv.add('carol')
    const [bconv, cconv] = await Promise.all([bobAdded, carolAdded])
    const docName = `conv/${conv.sid}`

    // Bob also holds a raw socket subscribed to the conversation (what a modified client could do).
    const raw = await authenticatedRaw(h, relay, 'bob')
    raw.send(syncStep1Frame(docName))
    await raw.next((f) => frameInfo(f)?.docName === docName && frameInfo(f)?.type === MessageType.sync)

    const bobMessages: string[] = []
    bob.on('messageAdded', (m: Message) => bobMessages.push(m.body ?? ''))
    const bobGets = waitFor<Message>(bconv, 'messageAdded', (m) => m.body === 'before removal')
    const rawGets = waitUntil(() => {
      const d = new Y.Doc()
      applySyncFrames(raw.frames, docName, d)
      return [...new ConversationDocument(d).messages.values()].some((m) => m.content[0]?.type === 'text')
    }, 'the raw socket receives the first message')
    await conv.sendMessage('before removal')
    await Promise.all([bobGets, rawGets])

    // Alice removes Bob.
    const removed = waitFor<Conversation>(bob, 'conversationRemoved')
    const denied = raw.next((f) => frameInfo(f)?.docName === docName && frameInfo(f)?.type === MessageType.auth)
    await conv.removeParticipant('bob')
    expect((await removed).sid).toBe(conv.sid)
    expect(deniedReason(await denied)).toMatch(/removed/)
    const deniedAt = raw.frames.findIndex(
      (f) => frameInfo(f)?.type === MessageType.auth && frameInfo(f)?.docName === docName,
    )

    // Alice keeps talking; Carol hears it, Bob does not.
    const after = [await conv.sendMessage('after removal 1'), await conv.sendMessage('after removal 2')]
    await waitUntil(async () => {
      const list = await cconv.getMessages()
      return after.every((m) => list.items.some((x) => x.sid === m.sid && x.index !== null))
    }, 'carol has both later messages, sequenced')
    // A round trip on Bob's raw socket: anything the relay sent it before is in by now.
    raw.send(syncStep1Frame('user/bob', new Y.Doc()))
    const marker = raw.frames.length
    await raw.next((f) => raw.frames.indexOf(f) >= marker && frameInfo(f)?.docName === 'user/bob')

    expect(raw.ws.readyState).toBe(WsSocket.OPEN)
    const later = raw.frames.slice(deniedAt + 1).filter((f) => frameInfo(f)?.docName === docName)
    expect(later).toEqual([])
    const bobsView = new Y.Doc()
    applySyncFrames(raw.frames, docName, bobsView)
    const ids = [...new ConversationDocument(bobsView).messages.keys()]
    for (const m of after) expect(ids).not.toContain(m.sid)
    expect(bobMessages).toEqual(['before removal'])
    await expect(bob.getConversationBySid(conv.sid)).rejects.toMatchObject({ code: 'NOT_FOUND' })

    // Asking again is refused, and yields nothing of the conversation.
    const before = raw.frames.length
    raw.send(syncStep1Frame(docName))
    const again = await raw.next((f) => raw.frames.indexOf(f) >= before && frameInfo(f)?.docName === docName)
    expect(deniedReason(again)).toBe('not a participant')
    expect(
      raw.frames
        .slice(before)
        .filter((f) => frameInfo(f)?.type === MessageType.sync && frameInfo(f)?.docName === docName),
    ).toEqual([])
    expect((await bob.getSubscribedConversations()).items).toHaveLength(0)
  })
})
