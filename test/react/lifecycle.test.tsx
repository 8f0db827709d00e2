// @vitest-environment happy-dom
/**
 * What the hooks hold and when they let go: one window per distinct question, every window and
 * listener released on unmount (counted through the client's public API), Strict Mode's double
 * mount included, and the provider's own client shut down with it.
 */
import { act, render, screen, waitFor } from '@testing-library/react'
import { StrictMode, Suspense, useState } from 'react'
import { describe, expect, it, vi } from 'vitest'
import { Client } from '../../src/index.js'
import {
  ColloquyProvider,
  useClient,
  useConnectionState,
  useConversation,
  useConversations,
  useMessages,
  useParticipants,
  useTyping,
  useUnreadCount,
  useUser,
} from '../../src/react/index.js'
import * as suspense from '../../src/react/suspense.js'
import { useHarness as harness } from '../client/helpers.js'
import { Boundary, track, unmountAfterEach } from './helpers.js'

const h = harness()
unmountAfterEach()

/** Every hook once, on one conversation. */
function Everything({ sid, label }: { sid: string; label: string }) {
  const { conversations } = useConversations()
  const { conversation } = useConversation(sid)
  const { messages } = useMessages(sid)
  const { participants } = useParticipants(sid)
  const typing = useTyping(sid)
  const unread = useUnreadCount(sid)
  const total = useUnreadCount()
  const { user } = useUser('bob')
  const connection = useConnectionState()
  const ready =
    conversations.length === 1 &&
    conversation !== null &&
    messages.length === 1 &&
    participants.length === 2 &&
    !typing.many &&
    unread + total >= 0 &&
    user !== null &&
    connection === 'connected'
  return <p>{ready ? `${label} ready` : `${label} loading`}</p>
}

/** The windows the hooks of `Everything` open: one each (the two unread counts are two questions). */
const WINDOWS = { subscribeConversations: 2, subscribe: 2, subscribeMessages: 1, subscribeParticipants: 1 }

const setup = async () => {
  const { clients, convs, sid } = await h.shared(['bob'])
  await convs.bob!.sendMessage('hi')
  await clients.alice!.getUser('bob') // the client's own listeners on bob's profile are not the hooks'
  await waitFor(() => expect(convs.alice!.lastMessage).not.toBeNull())
  return { alice: clients.alice!, sid }
}

describe('releasing what the hooks hold', () => {
  it('shares one window per question and releases every window and listener on unmount', async () => {
    const { alice, sid } = await setup()
    const t = track()
    const { unmount } = render(
      <ColloquyProvider client={alice}>
        <Everything sid={sid} label="one" />
        <Everything sid={sid} label="two" />
      </ColloquyProvider>,
    )
    await screen.findByText('one ready')
    await screen.findByText('two ready')
    for (const [method, count] of Object.entries(WINDOWS)) expect(t.created(method), method).toBe(count)
    expect(t.created('subscribeTyping')).toBe(1)
    expect(t.live().length).toBeGreaterThan(0)
    expect(t.listeners()).toBeGreaterThan(0)
    unmount()
    await waitFor(() => {
      expect(t.live().map((w) => w.method)).toEqual([])
      expect(t.listeners()).toBe(0)
    })
  })

  it('in Strict Mode (double render, double effects) opens each window once and releases all', async () => {
    const { alice, sid } = await setup()
    const t = track()
    const { unmount } = render(
      <StrictMode>
        <ColloquyProvider client={alice}>
          <Everything sid={sid} label="strict" />
        </ColloquyProvider>
      </StrictMode>,
    )
    await screen.findByText('strict ready')
    for (const [method, count] of Object.entries(WINDOWS)) expect(t.created(method), method).toBe(count)
    unmount()
    await waitFor(() => {
      expect(t.live()).toEqual([])
      expect(t.listeners()).toBe(0)
    })
  })

  it('keeps a shared window while one component still shows it, and swaps windows when the props change', async () => {
    const { alice, sid } = await setup()
    const other = await alice.createConversation({ join: true })
    await other.sendMessage('elsewhere')
    const t = track()
    let setShown: (v: { second: boolean; sid: string }) => void = () => {}
    function Two() {
      const [shown, set] = useState<{ second: boolean; sid: string }>({ second: true, sid })
      setShown = set
      return (
        <>
          <Window sid={shown.sid} label="a" />
          {shown.second && <Window sid={sid} label="b" />}
        </>
      )
    }
    function Window({ sid, label }: { sid: string; label: string }) {
      const { messages } = useMessages(sid)
      return (
        <p>
          {label} {messages.map((m) => m.plaintext).join(',')}
        </p>
      )
    }
    render(
      <ColloquyProvider client={alice}>
        <Two />
      </ColloquyProvider>,
    )
    await screen.findByText('a hi')
    await screen.findByText('b hi')
    expect(t.live()).toHaveLength(1)
    act(() => setShown({ second: false, sid }))
    await act(() => Promise.resolve())
    expect(t.live()).toHaveLength(1)
    act(() => setShown({ second: false, sid: other.sid }))
    await screen.findByText('a elsewhere')
    await waitFor(() => expect(t.live()).toHaveLength(1))
    expect(t.created('subscribeMessages')).toBe(2)
  })

  it('a provider that unmounts releases windows no committed component holds (a suspended render)', async () => {
    // A device that cannot reach the relay, asked for a conversation it does not know: the window
    // waits for a sync that does not come, and the render stays suspended.
    const link = h.network().link('dave')
    link.partition()
    const offline = await h.client('dave', { transport: link })
    const t = track()
    const { unmount } = render(
      <ColloquyProvider client={offline}>
        <Suspense fallback={<p>waiting</p>}>
          <Pending />
        </Suspense>
      </ColloquyProvider>,
    )
    await screen.findByText('waiting')
    expect(t.listeners()).toBeGreaterThan(0)
    unmount()
    await waitFor(() => {
      expect(t.live()).toEqual([])
      expect(t.listeners()).toBe(0)
    })
  })

  it('a window opened by a render that never committed is released a while after it settled', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    const t = track()
    function Broken(): never {
      useMessages(conv)
      throw new Error('render failed after the hook')
    }
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      render(
        <ColloquyProvider client={alice}>
          <Boundary>
            <Broken />
          </Boundary>
        </ColloquyProvider>,
      )
      expect(screen.getByText('caught render failed after the hook')).toBeTruthy()
      // The window opens and settles within microtasks (no timer runs meanwhile).
      // React renders a failed mount twice, from the provider down: both renders share one window.
      const active = () => t.windows.length > 0 && t.windows.every((w) => w.window.state === 'active')
      await act(async () => {
        for (let i = 0; i < 100 && !active(); i++) await Promise.resolve()
      })
      expect(active()).toBe(true)
      expect(t.live().map((w) => w.method)).toEqual(['subscribeMessages'])
      await act(() => vi.advanceTimersByTimeAsync(4_000))
      expect(t.live()).toHaveLength(1)
      await act(() => vi.advanceTimersByTimeAsync(1_000))
      expect(t.live()).toEqual([])
    } finally {
      vi.useRealTimers()
    }
    expect(logged).toHaveBeenCalled()
  })
})

function Pending() {
  const { messages } = suspense.useMessages('CHunknown')
  return <p>{messages.length}</p>
}

describe('ColloquyProvider with client options', () => {
  it('opens a client, shows the fallback meanwhile, and shuts it down on unmount (Strict Mode too)', async () => {
    const shutdown = vi.spyOn(Client.prototype, 'shutdown')
    const create = vi.spyOn(Client, 'create')
    function Who() {
      return <p>signed in as {useClient().identity}</p>
    }
    const { unmount } = render(
      <StrictMode>
        <ColloquyProvider options={{ identity: 'carol' }} fallback={<p>opening</p>}>
          <Who />
        </ColloquyProvider>
      </StrictMode>,
    )
    expect(screen.getByText('opening')).toBeTruthy()
    await screen.findByText('signed in as carol')
    unmount()
    await waitFor(() => expect(shutdown).toHaveBeenCalledTimes(create.mock.calls.length))
    expect(create.mock.calls.length).toBeGreaterThanOrEqual(1)
  })

  it('a client that cannot be created reaches the error boundary', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    render(
      <Boundary>
        <ColloquyProvider options={{ identity: '' }}>
          <p>never</p>
        </ColloquyProvider>
      </Boundary>,
    )
    await screen.findByText('caught INVALID_ARGUMENT')
    expect(logged).toHaveBeenCalled()
  })
})
