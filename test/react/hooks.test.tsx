// @vitest-environment happy-dom
/**
 * colloquy/react hooks against real clients over the in-process test network: what they show,
 * that components asking the same thing share one window, that nothing renders when nothing shown
 * changed, loadMore, and errors returned as `error`.
 */
import { act, render, screen, waitFor } from '@testing-library/react'
import { useState } from 'react'
import { describe, expect, it } from 'vitest'
import type { Client, Conversation, MessageSnapshot } from '../../src/index.js'
import {
  ColloquyProvider,
  useConnectionState,
  useConversation,
  useConversations,
  useMessages,
  useParticipants,
  useSendMessage,
  useTyping,
  useUnreadCount,
  useUser,
} from '../../src/react/index.js'
import { useHarness as harness, manualClock } from '../client/helpers.js'
import { renderCounter, track, unmountAfterEach } from './helpers.js'

const h = harness()
unmountAfterEach()

const texts = (messages: readonly MessageSnapshot[]) => messages.map((m) => m.plaintext).join(',')

function Messages({ conversation, limit }: { conversation: Conversation | string; limit?: number }) {
  const { messages, isLoading, loadedAll, error } = useMessages(conversation, { limit })
  if (error) return <p>error {(error as { code: string }).code}</p>
  if (isLoading) return <p>loading</p>
  return (
    <p>
      messages {texts(messages)} {loadedAll ? 'all' : 'more'}
    </p>
  )
}

describe('useConversations', () => {
  it('lists my conversations by activity, follows new messages, and loadMore grows the window', async () => {
    const clock = manualClock(1_000)
    const alice = await h.client('alice', { now: clock.now })
    const convs: Conversation[] = []
    for (let i = 0; i < 4; i++) {
      clock.advance(100)
      convs.push(await alice.createConversation({ friendlyName: `c${i}`, join: true }))
    }
    let loadMore: ((n?: number) => Promise<void>) | null = null
    function List() {
      const list = useConversations({ limit: 2 })
      loadMore = list.loadMore
      return (
        <p>
          list {list.conversations.map((c) => c.friendlyName).join(',')} {list.loadedAll ? 'all' : 'more'}
        </p>
      )
    }
    render(
      <ColloquyProvider client={alice}>
        <List />
      </ColloquyProvider>,
    )
    await screen.findByText('list c3,c2 more')
    clock.advance(100)
    await act(() => convs[0]!.sendMessage('bump'))
    await screen.findByText('list c0,c3 more')
    await act(() => loadMore!(2))
    await screen.findByText('list c0,c3,c2,c1 all')
  })
})

describe('useMessages', () => {
  it('shows the newest messages, newest first, and loadMore reaches loadedAll', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    for (const text of ['a', 'b', 'c']) await conv.sendMessage(text)
    let more: ((n?: number) => Promise<void>) | null = null
    function Window() {
      const { messages, loadMore, loadedAll } = useMessages(conv.sid, { limit: 2 })
      more = loadMore
      return (
        <p>
          messages {texts(messages)} {loadedAll ? 'all' : 'more'}
        </p>
      )
    }
    render(
      <ColloquyProvider client={alice}>
        <Window />
      </ColloquyProvider>,
    )
    await screen.findByText('messages c,b more')
    await act(() => more!(5))
    await screen.findByText('messages c,b,a all')
  })

  it('renders only when what it shows changes', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    await conv.sendMessage('first')
    const renders = renderCounter()
    function Counted() {
      renders.hit()
      const { messages } = useMessages(conv, { limit: 5 })
      return <p>messages {texts(messages)}</p>
    }
    function Topic() {
      const { conversation } = useConversation(conv)
      return <p>topic {String(conversation?.custom.topic ?? '-')}</p>
    }
    render(
      <ColloquyProvider client={alice}>
        <Counted />
        <Topic />
      </ColloquyProvider>,
    )
    await screen.findByText('messages first')
    await screen.findByText('topic -')
    const settled = renders.count
    // A change the message window does not show: the conversation's attributes. The window
    // recomputes, finds the same snapshot, and nothing renders.
    await act(() => conv.updateAttributes({ topic: 'x' }))
    await screen.findByText('topic x')
    expect(renders.count).toBe(settled)
    // A change it shows renders once.
    await act(() => conv.sendMessage('second'))
    await screen.findByText('messages second,first')
    expect(renders.count).toBe(settled + 1)
  })

  it('components asking the same thing share one window; another limit is another window', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    await conv.sendMessage('hi')
    const t = track()
    render(
      <ColloquyProvider client={alice}>
        <Messages conversation={conv.sid} limit={5} />
        <Messages conversation={conv} limit={5} />
        <Messages conversation={conv.sid} limit={5} />
        <Messages conversation={conv.sid} limit={7} />
      </ColloquyProvider>,
    )
    await waitFor(() => expect(screen.getAllByText('messages hi all')).toHaveLength(4))
    expect(t.created('subscribeMessages')).toBe(2)
  })

  it('opens a conversation it is given by sid once the client learns it (a new device)', async () => {
    const { net, sid, convs } = await h.shared(['bob'])
    await convs.alice!.sendMessage('before you came')
    // Bob's second device knows nothing yet: the hook waits for the sync instead of failing.
    const bob2 = await h.client('bob', { transport: net.link('bob') })
    render(
      <ColloquyProvider client={bob2}>
        <Messages conversation={sid} />
      </ColloquyProvider>,
    )
    await screen.findByText('messages before you came all', {}, { timeout: 5_000 })
  })

  it('returns an error for a conversation the client does not have, and for a bad limit', async () => {
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    render(
      <ColloquyProvider client={alice}>
        <Messages conversation="CHnope" />
        <Messages conversation={conv} limit={0} />
      </ColloquyProvider>,
    )
    await screen.findByText('error NOT_FOUND')
    await screen.findByText('error INVALID_ARGUMENT')
  })
})

describe('after a failure', () => {
  it('the component that failed keeps its error; one that mounts later tries again', async () => {
    const net = h.network()
    const alice = await h.client('alice', { transport: net.link('alice') })
    const bob = await h.client('bob', { transport: net.link('bob') })
    const conv = await alice.createConversation({ friendlyName: 'later', join: true })
    await conv.sendMessage('welcome')
    await net.settle()
    let remount: (n: number) => void = () => {}
    function Switch() {
      const [n, setN] = useState(0)
      remount = setN
      return <Messages key={n} conversation={conv.sid} />
    }
    render(
      <ColloquyProvider client={bob}>
        <Switch />
      </ColloquyProvider>,
    )
    // Bob is not in it (yet): once his client has synced, the conversation is not found.
    await screen.findByText('error NOT_FOUND')
    const added = waitFor(() => expect(bob.getConversationBySid(conv.sid)).resolves.toBeTruthy(), { timeout: 5_000 })
    await act(async () => {
      await conv.add('bob')
      await added
    })
    expect(screen.getByText('error NOT_FOUND')).toBeTruthy()
    act(() => remount(1))
    await screen.findByText('messages welcome all')
  })
})

describe('when the client reloads a conversation', () => {
  it('follows the new Conversation object after the relay refused an update', async () => {
    const { net, sid, convs, clients } = await h.shared(['bob'])
    const bob = clients.bob!
    render(
      <ColloquyProvider client={bob}>
        <Messages conversation={sid} />
      </ColloquyProvider>,
    )
    await screen.findByText('messages all')
    // Bob is demoted to read-only while offline and writes anyway: the relay refuses the change,
    // and bob's client drops its copy of the conversation and loads it again (a new object).
    for (const link of net.links('bob')) link.partition()
    await (await convs.alice!.getParticipantByIdentity('bob')).updateAccess('Read')
    await act(() => convs.bob!.sendMessage('written while read-only'))
    await screen.findByText('messages written while read-only all')
    const refused = new Promise<void>((resolve) => {
      const off = bob.on('error', (e: { code?: string }) => {
        if (e.code !== 'REJECTED') return
        off()
        resolve()
      })
    })
    for (const link of net.links('bob')) link.heal()
    await act(() => refused)
    await waitFor(async () => expect(await bob.getConversationBySid(sid)).not.toBe(convs.bob))
    // The window now reads the reloaded conversation: the refused message is gone, new ones arrive.
    await act(() => convs.alice!.sendMessage('after the refusal'))
    await screen.findByText('messages after the refusal all', {}, { timeout: 5_000 })
  })
})

describe('useSendMessage', () => {
  it('resolves with the pending message, which every window of the conversation shows at once', async () => {
    const { net, convs, clients } = await h.shared(['bob'])
    const sent: MessageSnapshot[] = []
    let send: ((text: string) => Promise<MessageSnapshot>) | null = null
    function Composer({ conversation }: { conversation: Conversation }) {
      const fn = useSendMessage(conversation)
      send = fn
      const { messages } = useMessages(conversation)
      return <p>{messages.map((m) => `${m.plaintext}:${m.index === null ? 'pending' : 'sent'}`).join(',')}</p>
    }
    render(
      <ColloquyProvider client={clients.alice!}>
        <Composer conversation={convs.alice!} />
      </ColloquyProvider>,
    )
    // The relay is out of reach: the message stays pending, yet it is shown and returned.
    for (const link of net.links('alice')) link.partition()
    sent.push(await act(() => send!('hello')))
    expect(sent[0]!.status).toBe('pending')
    expect(Object.isFrozen(sent[0])).toBe(true)
    await screen.findByText('hello:pending')
    for (const link of net.links('alice')) link.heal()
    await screen.findByText('hello:sent', {}, { timeout: 5_000 })
  })
})

describe('useParticipants, useTyping, useUnreadCount, useUser, useConnectionState', () => {
  it('show participants, who types, unread counts, a user with presence and the connection', async () => {
    const { net, convs, clients, sid } = await h.shared(['bob'])
    const alice = clients.alice as Client
    await clients.bob!.user.updateFriendlyName('Bob B')
    function Panel() {
      const { participants } = useParticipants(sid)
      const typing = useTyping(sid)
      const unread = useUnreadCount(sid)
      const total = useUnreadCount()
      const { user } = useUser('bob')
      const connection = useConnectionState()
      return (
        <>
          <p>
            participants{' '}
            {participants
              .map((p) => p.identity)
              .sort()
              .join(',')}
          </p>
          <p>typing {typing.many ? 'many' : typing.users.join(',')}</p>
          <p>
            unread {unread}/{total}
          </p>
          <p>
            user {user?.friendlyName ?? '-'} {String(user?.isOnline)}
          </p>
          <p>connection {connection}</p>
        </>
      )
    }
    render(
      <ColloquyProvider client={alice}>
        <Panel />
      </ColloquyProvider>,
    )
    await screen.findByText('participants alice,bob')
    await screen.findByText('connection connected')
    await screen.findByText('user Bob B true', {}, { timeout: 5_000 })
    await act(() => convs.bob!.typing())
    await screen.findByText('typing bob')
    await act(async () => {
      await convs.bob!.sendMessage('one')
      await convs.bob!.sendMessage('two')
    })
    await screen.findByText('unread 2/2')
    await act(() => convs.alice!.setAllMessagesRead())
    await screen.findByText('unread 0/0')
    await act(() => clients.bob!.shutdown())
    await screen.findByText('user Bob B false', {}, { timeout: 5_000 })
    for (const link of net.links('alice')) link.partition()
    await screen.findByText('user Bob B null')
    await screen.findByText(/^connection (connecting|disconnected)$/)
  })
})
