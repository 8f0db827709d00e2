// @vitest-environment happy-dom
/**
 * colloquy/react/suspense: hooks that suspend until their window's first snapshot and throw its
 * error to the nearest error boundary, against real clients over the in-process test network.
 */
import { act, render, screen, waitFor } from '@testing-library/react'
import { StrictMode, Suspense } from 'react'
import { describe, expect, it, vi } from 'vitest'
import {
  ColloquyProvider,
  useConversation,
  useConversations,
  useMessages,
  useTyping,
  useUnreadCount,
  useUser,
} from '../../src/react/suspense.js'
import { useHarness as harness } from '../client/helpers.js'
import { Boundary, track, unmountAfterEach } from './helpers.js'

const h = harness()
unmountAfterEach()

function Thread({ sid }: { sid: string }) {
  const { messages, loadedAll } = useMessages(sid, { limit: 5 })
  const conversation = useConversation(sid)
  const typing = useTyping(sid)
  const unread = useUnreadCount(sid)
  return (
    <p>
      {conversation?.friendlyName} {messages.map((m) => m.plaintext).join(',')} {loadedAll ? 'all' : 'more'}{' '}
      {typing.many ? 'many' : typing.users.length} unread {unread}
    </p>
  )
}

describe('suspense hooks', () => {
  it('suspend until the first snapshot, on a device that has to sync the conversation first', async () => {
    const { net, sid, convs } = await h.shared(['bob'])
    await convs.alice!.sendMessage('hello bob')
    const bob2 = await h.client('bob', { transport: net.link('bob') })
    const t = track()
    const { unmount } = render(
      <StrictMode>
        <ColloquyProvider client={bob2}>
          <Suspense fallback={<p>suspended</p>}>
            <Thread sid={sid} />
          </Suspense>
        </ColloquyProvider>
      </StrictMode>,
    )
    expect(screen.getByText('suspended')).toBeTruthy()
    await screen.findByText('team hello bob all 0 unread 1', {}, { timeout: 5_000 })
    unmount()
    await waitFor(() => {
      expect(t.live()).toEqual([])
      expect(t.listeners()).toBe(0)
    })
  })

  it('useConversations and useUser suspend, then show; loadMore grows the window', async () => {
    const alice = await h.client('alice')
    for (let i = 0; i < 3; i++) await alice.createConversation({ friendlyName: `c${i}`, join: true })
    await alice.user.updateFriendlyName('Alice A')
    let more: ((n?: number) => Promise<void>) | null = null
    function Inbox() {
      const { conversations, loadMore, loadedAll } = useConversations({ limit: 2 })
      const me = useUser('alice')
      more = loadMore
      return (
        <p>
          {me.friendlyName}: {conversations.length} {loadedAll ? 'all' : 'more'}
        </p>
      )
    }
    render(
      <ColloquyProvider client={alice}>
        <Suspense fallback={<p>suspended</p>}>
          <Inbox />
        </Suspense>
      </ColloquyProvider>,
    )
    await screen.findByText('Alice A: 2 more')
    await act(() => more!(5))
    await screen.findByText('Alice A: 3 all')
  })

  it('throw to the error boundary: an unknown conversation, a bad limit', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    const alice = await h.client('alice')
    const conv = await alice.createConversation({ join: true })
    function Bad() {
      useMessages(conv, { limit: 1_000 })
      return <p>never</p>
    }
    const t = track()
    const { unmount } = render(
      <ColloquyProvider client={alice}>
        <Boundary>
          <Suspense fallback={<p>suspended</p>}>
            <Thread sid="CHnope" />
          </Suspense>
        </Boundary>
        <Boundary>
          <Suspense fallback={<p>suspended</p>}>
            <Bad />
          </Suspense>
        </Boundary>
      </ColloquyProvider>,
    )
    await screen.findByText('caught NOT_FOUND')
    await screen.findByText('caught INVALID_ARGUMENT')
    expect(logged).toHaveBeenCalled()
    unmount()
    await waitFor(() => {
      expect(t.live()).toEqual([])
      expect(t.listeners()).toBe(0)
    })
  })
})
