/**
 * A stock y-websocket-protocol client (built here from y-protocols, one document per socket at
 * `/<docName>`, no multiplexing prefix) syncs a conversation it may read and receives messages.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket as WsSocket } from 'ws'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { ConversationDocument } from '../../src/schema/layout.ts'
import { deadline, Harness, sharedConversation, tokenFor, waitUntil } from './helpers.ts'

const messageSync = 0
const messageAwareness = 1
const messageAuth = 2
const messageQueryAwareness = 3

/** What y-websocket's WebsocketProvider does on the wire, minus reconnection. */
class StockClient {
  readonly doc = new Y.Doc()
  readonly awareness = new awarenessProtocol.Awareness(this.doc)
  readonly ws: WsSocket
  readonly synced: Promise<void>
  readonly closed: Promise<number>
  denied: string | null = null

  constructor(url: string) {
    this.awareness.setLocalState(null)
    this.ws = new WsSocket(url)
    this.ws.binaryType = 'arraybuffer'
    this.ws.on('error', () => {})
    this.closed = new Promise((resolve) => this.ws.once('close', (code) => resolve(code)))
    let markSynced: () => void = () => {}
    this.synced = new Promise((resolve) => {
      markSynced = resolve
    })
    this.ws.on('open', () => {
      const encoder = encoding.createEncoder()
      encoding.writeVarUint(encoder, messageSync)
      syncProtocol.writeSyncStep1(encoder, this.doc)
      this.ws.send(encoding.toUint8Array(encoder))
      const query = encoding.createEncoder()
      encoding.writeVarUint(query, messageQueryAwareness)
      this.ws.send(encoding.toUint8Array(query))
    })
    this.ws.on('message', (data: ArrayBuffer) => {
      const decoder = decoding.createDecoder(new Uint8Array(data))
      const encoder = encoding.createEncoder()
      const type = decoding.readVarUint(decoder)
      if (type === messageSync) {
        encoding.writeVarUint(encoder, messageSync)
        const kind = syncProtocol.readSyncMessage(decoder, encoder, this.doc, this)
        if (encoding.length(encoder) > 1) this.ws.send(encoding.toUint8Array(encoder))
        if (kind === syncProtocol.messageYjsSyncStep2) markSynced()
      } else if (type === messageAwareness) {
        awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), this)
      } else if (type === messageAuth) {
        decoding.readVarUint(decoder)
        this.denied = decoding.readVarString(decoder)
      }
    })
  }

  get conversation(): ConversationDocument {
    return new ConversationDocument(this.doc)
  }

  bodies(): string[] {
    const conv = this.conversation
    return [...conv.messages.values()]
      .filter((m) => conv.stamps.has(m.id))
      .sort((a, b) => conv.stamps.get(a.id)!.i - conv.stamps.get(b.id)!.i)
      .map((m) => (m.content[0]?.type === 'text' ? m.content[0].text : ''))
  }

  close(): void {
    this.awareness.destroy()
    if (this.ws.readyState <= WsSocket.OPEN) this.ws.terminate()
  }
}

describe('relay: stock y-websocket clients', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('sync a conversation they may read at /conv/<sid> and receive its messages and typing', async () => {
    const relay = await h.relay()
    const alice = await h.client('alice', { relayUrl: relay.url, typingTimeout: 2_000 })
    const bob = await h.client('bob', { relayUrl: relay.url })
    const { conv } = await sharedConversation(alice, bob, { friendlyName: 'stock', join: true })
    const first = await conv.sendMessage('before the stock client came')
    await waitUntil(() => first.index !== null, 'the first message is sequenced')

    const stock = new StockClient(`${relay.url}/conv/${conv.sid}?token=${await tokenFor('bob')}`)
    h.defer(() => stock.close())
    await deadline(stock.synced, 5_000, 'the stock client syncs')
    expect(stock.denied).toBeNull()
    expect(stock.conversation.get('friendlyName', null)).toBe('stock')
    expect([...stock.conversation.participants.keys()].sort()).toEqual(['alice', 'bob'])
    expect(stock.bodies()).toEqual(['before the stock client came'])
    expect(stock.conversation.stamps.get(first.sid)?.i).toBe(first.index)

    // Live: a new message arrives, with its stamp.
    const second = await conv.sendMessage('live')
    await waitUntil(() => stock.bodies().length === 2, 'the stock client receives the live message, stamped')
    expect(stock.bodies()).toEqual(['before the stock client came', 'live'])
    await waitUntil(() => second.index !== null, 'alice sees the stamp')
    expect(stock.conversation.stamps.get(second.sid)?.i).toBe(second.index)

    // Typing travels as awareness on the same socket.
    await conv.typing()
    await waitUntil(
      () => [...stock.awareness.getStates().values()].some((s) => s.identity === 'alice' && s.typing === true),
      'the stock client sees alice typing',
    )
    expect(stock.ws.readyState).toBe(WsSocket.OPEN)
  })

  it('are refused with a y-protocols auth message for a conversation they may not read', async () => {
    const relay = await h.relay()
    const alice = await h.client('alice', { relayUrl: relay.url })
    const conv = await alice.createConversation({ join: true })
    const m = await conv.sendMessage('not for mallory')
    await waitUntil(() => m.index !== null, 'sequenced')
    const stock = new StockClient(`${relay.url}/conv/${conv.sid}?token=${await tokenFor('mallory')}`)
    h.defer(() => stock.close())
    await waitUntil(() => stock.denied !== null, 'the stock client is refused')
    expect(stock.denied).toBe('not a participant')
    expect(stock.conversation.messages.size).toBe(0)
    expect(stock.conversation.exists).toBe(false)
  })
})
