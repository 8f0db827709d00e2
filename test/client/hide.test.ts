import { describe, expect, it } from 'vitest'
import { expectCode, useHarness } from './helpers.ts'

const h = useHarness()

describe('hiding messages (moderators)', () => {
  it('a hidden message shows nothing to anyone, survives the author editing it, and only moderators unhide it', async () => {
    const { net, convs } = await h.shared(['bob'])
    const sent = await convs.bob!.sendMessage('something regrettable')
    await net.settle()
    const seenByAlice = await convs.alice!.getMessageBySid(sent.sid)
    await seenByAlice.hide()
    await net.settle()
    for (const m of [seenByAlice, sent]) {
      expect(m.isHidden).toBe(true)
      expect(m.body).toBeNull()
      expect(m.content).toEqual([])
    }
    // The author edits: the hide stays.
    await sent.updateBody('edited, still hidden')
    await net.settle()
    expect(seenByAlice.isHidden).toBe(true)
    expect(seenByAlice.body).toBeNull()
    // Members may not hide or unhide.
    await expectCode(sent.unhide(), 'FORBIDDEN')
    await expectCode(sent.hide(), 'FORBIDDEN')
    await seenByAlice.unhide()
    await net.settle()
    expect(sent.isHidden).toBe(false)
    expect(sent.body).toBe('edited, still hidden')
    expect(seenByAlice.body).toBe('edited, still hidden')
  })

  it('the inbox preview of a hidden last message is empty', async () => {
    const { net, convs, clients } = await h.shared(['bob'])
    const sent = await convs.bob!.sendMessage('secret preview')
    await net.settle()
    await (await convs.alice!.getMessageBySid(sent.sid)).hide()
    await net.settle()
    const snapshot = await new Promise<unknown>((resolve) => {
      const sub = clients.alice!.subscribeConversations((list) => {
        sub.unsubscribe()
        resolve(list[0]?.lastMessage?.plaintext)
      })
    })
    expect(snapshot).toBeNull()
  })
})
