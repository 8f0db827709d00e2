/** The development sign-in: a name, no password (the example server signs a token for any name). */
import { type FormEvent, useState } from 'react'
import { requestDevToken, type Session, saveSession } from './session.ts'

export function Login({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const submit = (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError('')
    requestDevToken(name)
      .then((session) => {
        saveSession(session)
        onSignedIn(session)
      })
      .catch((e: unknown) => {
        setError(
          navigator.onLine
            ? e instanceof Error
              ? e.message
              : String(e)
            : 'Signing in the first time needs a connection. After that the app works offline.',
        )
        setBusy(false)
      })
  }
  return (
    <div className="login-screen">
      <form className="login" onSubmit={submit}>
        <h1>
          colloquy<span> web chat</span>
        </h1>
        <p>
          Local-first conversations: everything you read and write is kept in this browser and synced through your own
          relay.
        </p>
        <label>
          Your name
          <input
            data-testid="login-name"
            placeholder="alice"
            autoComplete="username"
            required
            maxLength={32}
            aria-label="Your name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            // biome-ignore lint/a11y/noAutofocus: the only field of the page
            autoFocus
          />
        </label>
        <button type="submit" className="primary" data-testid="login-button" disabled={busy}>
          Sign in
        </button>
        <p className="error" data-testid="login-error" role="alert">
          {error}
        </p>
        <p className="dev-warning" data-testid="dev-warning">
          <strong>Development sign-in. </strong>
          There is no password: anyone who can open this page can sign in as anyone. A real app gets relay tokens from
          its own backend after its own login.
        </p>
      </form>
    </div>
  )
}
