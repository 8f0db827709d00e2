/**
 * The composer: a message box (Enter sends, Shift+Enter breaks the line, Escape cancels a reply
 * or an edit), and a panel to share a location or a file link. Sending goes through
 * `useSendMessage`: the message shows at once as pending, online or not.
 */
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from 'react'
import type { ContentBlock, FileBlock, MessageSnapshot } from '../../../src/index.ts'
import { useClient, useSendMessage } from '../../../src/react/index.ts'
import { excerpt, guessType } from './format.ts'
import { attempt, Icon, toast } from './ui.tsx'

/** What the next message does: a reply, an edit of one of mine, or neither. */
export type ComposerContext = { kind: 'reply' | 'edit'; message: MessageSnapshot } | null

export function Composer({
  sid,
  context,
  onContextChange,
}: {
  sid: string
  context: ComposerContext
  onContextChange: (context: ComposerContext) => void
}) {
  const client = useClient()
  const send = useSendMessage(sid)
  const [draft, setDraft] = useState('')
  const [attaching, setAttaching] = useState(false)
  const input = useRef<HTMLTextAreaElement>(null)
  const me = client.identity

  // Editing puts the message's text in the box; replying keeps what was typed.
  useEffect(() => {
    if (context?.kind === 'edit') setDraft(context.message.plaintext ?? '')
    if (context !== null) input.current?.focus()
  }, [context])

  // The box grows with its text, up to a limit.
  // biome-ignore lint/correctness/useExhaustiveDependencies: resized whenever the text changes
  useEffect(() => {
    const el = input.current
    if (!el) return
    el.style.height = 'auto'
    el.style.height = `${Math.min(el.scrollHeight, 160)}px`
  }, [draft])

  const clearContext = () => {
    if (context?.kind === 'edit') setDraft('')
    onContextChange(null)
  }

  const submit = () => {
    const text = draft.trim()
    if (text === '') return
    const current = context
    setDraft('')
    onContextChange(null)
    attempt(async () => {
      try {
        if (current?.kind === 'edit') {
          const conversation = await client.getConversationBySid(sid)
          await (await conversation.getMessageBySid(current.message.id)).updateBody(text)
        } else {
          await send({ body: text, referencedMessage: current?.message.id })
        }
      } catch (error) {
        setDraft((d) => (d === '' ? text : d))
        throw error
      }
    })
    input.current?.focus()
  }

  const sendContent = (content: ContentBlock[]) => {
    const caption = draft.trim()
    const blocks: ContentBlock[] = caption ? [{ type: 'text', text: caption }, ...content] : content
    const replyTo = context?.kind === 'reply' ? context.message.id : undefined
    attempt(async () => {
      await send({ content: blocks, referencedMessage: replyTo })
      setDraft('')
      onContextChange(null)
      setAttaching(false)
    })
  }

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault()
      submit()
    } else if (event.key === 'Escape') clearContext()
  }

  return (
    <>
      <div className="composer-context" data-testid="composer-context" hidden={context === null}>
        {context && (
          <>
            <span className="context-label">
              {context.kind === 'edit'
                ? 'Editing your message'
                : `Replying to ${context.message.author === me ? 'yourself' : context.message.author}`}
            </span>
            <span className="context-detail">{excerpt(context.message)}</span>
            <button type="button" className="icon" title="Cancel" data-testid="cancel-context" onClick={clearContext}>
              <Icon name="close" size={16} />
            </button>
          </>
        )}
      </div>
      {attaching && <AttachPanel onSend={sendContent} />}
      <form
        className="composer"
        onSubmit={(event: FormEvent) => {
          event.preventDefault()
          submit()
        }}
      >
        <button
          type="button"
          className="icon"
          data-testid="attach-button"
          title="Share a location or a file link"
          onClick={() => setAttaching((a) => !a)}
        >
          <Icon name="attach" size={20} />
        </button>
        <textarea
          ref={input}
          data-testid="composer-input"
          rows={1}
          placeholder="Write a message"
          aria-label="Message"
          value={draft}
          onChange={(e) => {
            setDraft(e.target.value)
            if (e.target.value.trim() !== '' && context?.kind !== 'edit')
              void client
                .getConversationBySid(sid)
                .then((c) => c.typing())
                .catch(() => {})
          }}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="primary" data-testid="send-button">
          {context?.kind === 'edit' ? 'Save' : 'Send'}
        </button>
      </form>
    </>
  )
}

/** Location and file-reference messages: colloquy stores the reference, never the file. */
function AttachPanel({ onSend }: { onSend: (content: ContentBlock[]) => void }) {
  const [lat, setLat] = useState('')
  const [lon, setLon] = useState('')
  const [label, setLabel] = useState('')
  const [url, setUrl] = useState('')
  const [name, setName] = useState('')
  const [kind, setKind] = useState<FileBlock['subtype']>('file')
  const [size, setSize] = useState('')

  const here = () => {
    if (!navigator.geolocation) {
      toast('This browser cannot tell its location')
      return
    }
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setLat(pos.coords.latitude.toFixed(6))
        setLon(pos.coords.longitude.toFixed(6))
      },
      (error) => toast(error.message),
    )
  }
  const sendLocation = () => {
    if (lat === '' || lon === '') {
      toast('Enter a latitude and a longitude')
      return
    }
    onSend([
      {
        type: 'location',
        latitude: Number(lat),
        longitude: Number(lon),
        ...(label.trim() ? { label: label.trim() } : {}),
      },
    ])
  }
  const sendFile = () => {
    const href = url.trim()
    if (!/^https?:\/\//.test(href)) {
      toast('Enter an http(s) link to the file')
      return
    }
    const filename = name.trim() || decodeURIComponent(href.split(/[?#]/)[0]!.split('/').pop() || 'file')
    onSend([
      {
        type: 'file',
        subtype: kind,
        url: href,
        filename,
        contentType: guessType(filename, kind),
        size: Number(size) || 0,
      },
    ])
  }
  return (
    <div className="attach-panel" data-testid="attach-panel">
      <fieldset>
        <legend>📍 Location</legend>
        <input
          type="number"
          step="any"
          min={-90}
          max={90}
          placeholder="Latitude"
          data-testid="location-lat"
          value={lat}
          onChange={(e) => setLat(e.target.value)}
        />
        <input
          type="number"
          step="any"
          min={-180}
          max={180}
          placeholder="Longitude"
          data-testid="location-lon"
          value={lon}
          onChange={(e) => setLon(e.target.value)}
        />
        <input
          placeholder="Label (optional)"
          data-testid="location-label"
          value={label}
          onChange={(e) => setLabel(e.target.value)}
        />
        <button type="button" onClick={here}>
          Use my location
        </button>
        <button type="button" className="primary" data-testid="send-location" onClick={sendLocation}>
          Share location
        </button>
      </fieldset>
      <fieldset>
        <legend>📎 File link</legend>
        <input
          type="url"
          placeholder="https://…/file.pdf"
          data-testid="file-url"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
        />
        <input
          placeholder="File name (optional)"
          data-testid="file-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <select
          data-testid="file-kind"
          aria-label="Kind of file"
          value={kind}
          onChange={(e) => setKind(e.target.value as FileBlock['subtype'])}
        >
          {(['file', 'image', 'video', 'audio', 'voice'] as const).map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
        <input
          type="number"
          min={0}
          placeholder="Size in bytes"
          data-testid="file-size"
          value={size}
          onChange={(e) => setSize(e.target.value)}
        />
        <button type="button" className="primary" data-testid="send-file" onClick={sendFile}>
          Share file link
        </button>
      </fieldset>
      <p className="hint">Text in the message box is sent along as a caption.</p>
    </div>
  )
}
