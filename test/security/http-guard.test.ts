/**
 * Hostile HTTP before authentication: raw TCP requests with malformed paths, hosts, headers,
 * handshake fields and plain garbage, sent to a relay running as its own process (the CLI) and to
 * the example server. Whatever arrives, the process stays up, answers what it can with an HTTP
 * error, and goes on serving `/healthz` and real clients.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { parseUpgradeTarget } from '../../relay/request.ts'
import { deadline, frameInfo, Harness, syncStep1Frame, tokenFor } from '../relay/helpers.ts'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

/** An upgrade request with `target`, the usual handshake headers, and `extra` ones (raw lines). */
const upgrade = (target: string, extra: string[] = [], host = 'relay.test'): string =>
  [
    `GET ${target} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${KEY}`,
    'Sec-WebSocket-Version: 13',
    ...extra,
    '',
    '',
  ].join('\r\n')

/** Requests an attacker may send; each is sent on its own TCP connection. */
const HOSTILE: Array<{ what: string; bytes: string | Buffer; end?: boolean }> = [
  { what: 'a truncated percent-escape', bytes: upgrade('/%E0%A4%A') },
  { what: 'a lone percent sign', bytes: upgrade('/%') },
  { what: 'an escape that decodes to invalid UTF-8', bytes: upgrade('/%ED%A0%80') },
  { what: 'a bad escape in a document path', bytes: upgrade('/conv/%zz%E0') },
  { what: 'an escaped NUL in the path', bytes: upgrade('/conv%00x') },
  { what: 'a bad escape in the query', bytes: upgrade('/?token=%E0%A4%A&x=%') },
  { what: 'a scheme-relative target', bytes: upgrade('//') },
  { what: 'dot segments', bytes: upgrade('/../../%2e%2e/etc/passwd') },
  { what: 'an asterisk target', bytes: upgrade('*') },
  { what: 'a broken absolute target', bytes: upgrade('http://[::1/x') },
  { what: 'an absolute target with a bad escape', bytes: upgrade('ws://relay.test/%E0%A4%A') },
  { what: 'a target longer than any name', bytes: upgrade(`/${'a'.repeat(8000)}`) },
  { what: 'a broken Host', bytes: upgrade('/', [], '[::1') },
  { what: 'a Host of escapes', bytes: upgrade('/', [], '%E0%A4%A:99999') },
  { what: 'two Hosts', bytes: upgrade('/', ['Host: other.test']) },
  { what: 'no Host', bytes: upgrade('/').replace('Host: relay.test\r\n', '') },
  { what: 'a huge header', bytes: upgrade('/', [`X-Filler: ${'x'.repeat(70_000)}`]) },
  {
    what: 'a thousand headers',
    bytes: upgrade(
      '/',
      Array.from({ length: 1000 }, (_, i) => `X-H${i}: ${i}`),
    ),
  },
  { what: 'a bad Sec-WebSocket-Key', bytes: upgrade('/').replace(KEY, 'not-a-key') },
  { what: 'an unknown WebSocket version', bytes: upgrade('/').replace('Version: 13', 'Version: 99') },
  { what: 'a malformed subprotocol list', bytes: upgrade('/', ['Sec-WebSocket-Protocol: ,, ,"a"']) },
  { what: 'malformed extensions', bytes: upgrade('/', ['Sec-WebSocket-Extensions: permessage-deflate; a=b=c;;']) },
  { what: 'a garbage bearer token', bytes: upgrade('/', ['Authorization: Bearer %E0%A4%A.\u00ff.x']) },
  { what: 'a bad escape in a non-upgrade path', bytes: 'GET /%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n' },
  { what: 'a scheme-relative non-upgrade path', bytes: 'GET // HTTP/1.1\r\nHost: x\r\n\r\n' },
  { what: 'a non-upgrade POST with a bad escape', bytes: 'POST /dev/token%E0 HTTP/1.1\r\nHost: x\r\n\r\n' },
  { what: 'binary garbage', bytes: Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 131 + 7) % 256)) },
  { what: 'a request line without a version', bytes: 'GET /%E0%A4%A\r\n\r\n' },
  { what: 'half a request, then the end', bytes: 'GET /%E0%A4%A HTTP/1.1\r\nUpgrade: webso', end: true },
]

/**
 * Sends `bytes` on a fresh TCP connection; resolves with what came back once the server answered
 * a status line or closed (after `ms`, with what it has: an open socket is no failure).
 */
const send = (port: number, bytes: string | Buffer, end = false, ms = 3_000): Promise<string> =>
  new Promise((resolve) => {
    let got = ''
    const socket = connect(port, '127.0.0.1')
    const done = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(got)
    }
    const timer = setTimeout(done, ms)
    socket.on('error', done)
    socket.on('close', done)
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1')
      if (got.includes('\r\n')) done()
    })
    if (end) socket.end(bytes)
    else socket.write(bytes)
  })

/** A status line's code, or null. */
const status = (answer: string): number | null => {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(answer)
  return m ? Number(m[1]) : null
}

/** True while `child` runs. */
const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null

describe('HTTP before authentication cannot crash the relay', () => {
  const h = new Harness()
  afterEach(() => h.cleanup())

  it('reads request targets defensively', () => {
    expect(parseUpgradeTarget('/')?.docName).toBeNull()
    expect(parseUpgradeTarget('/?token=abc')?.url.searchParams.get('token')).toBe('abc')
    expect(parseUpgradeTarget('/conv/C%20x?token=t')?.docName).toBe('conv/C x')
    expect(parseUpgradeTarget('ws://relay.test/user/bob?token=t')?.docName).toBe('user/bob')
    // A bad escape in the query is read leniently (the token is then simply invalid).
    expect(parseUpgradeTarget('/?token=%E0%A4%A')?.url.searchParams.get('token')).toBeTypeOf('string')
    // Not malformed, only unknown: the core answers such names as it answers any unknown document.
    expect(parseUpgradeTarget('//')?.docName).toBe('/')
    for (const bad of ['/%E0%A4%A', '/%', '/%ED%A0%80', '/a%00', '*', 'http://[::1/x', '', undefined]) {
      expect(parseUpgradeTarget(bad), String(bad)).toBeNull()
    }
    expect(parseUpgradeTarget(`/${'a'.repeat(5000)}`)).toBeNull()
  })

  it('a relay process survives hostile upgrade requests and keeps serving', async () => {
    const relay = h.relayProcess({ port: 0, db: join(h.tmpdir(), 'relay.sqlite') })
    const { port, url } = await relay.ready
    const answers = new Map<string, string>()
    for (const { what, bytes, end } of HOSTILE) {
      answers.set(what, await send(port, bytes, end))
      // A crash may follow the answer by a moment: a health check after each request catches it there.
      const health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null)
      expect(health?.status, `the relay died on ${what}: ${relay.stderr}`).toBe(200)
    }
    // Malformed paths are refused with 400 before any WebSocket handshake.
    for (const what of [
      'a truncated percent-escape',
      'a lone percent sign',
      'an escape that decodes to invalid UTF-8',
      'a bad escape in a document path',
      'an escaped NUL in the path',
      'an absolute target with a bad escape',
    ]) {
      expect(status(answers.get(what)!), what).toBe(400)
    }
    expect(status(answers.get('a bad Sec-WebSocket-Key')!)).toBe(400)
    expect(status(answers.get('a huge header')!)).toBe(431)
    expect(relay.stderr).not.toMatch(/URIError|TypeError|\n\s+at /)
    // Refused by the parsers, not caught by the last-resort guards (which would log relay_error).
    expect(relay.stderr).not.toContain('relay_error')
    expect(relay.stderr).toContain('"event":"request_refused"')

    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    expect(health.status).toBe(200)
    // A real client still gets through.
    const raw = h.raw(`${url}/?token=${await tokenFor('alice')}`)
    await deadline(raw.opened, 5_000, 'a valid client connects')
    raw.send(syncStep1Frame('user/alice'))
    await raw.next((f) => frameInfo(f)?.docName === 'user/alice')
    expect(alive(relay.child)).toBe(true)
  })

  it('the example server survives the same requests on both of its ports', async () => {
    const dir = h.tmpdir()
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>chat</title>')
    const server = fileURLToPath(new URL('../../examples/server.ts', import.meta.url))
    const script = `
      const { startExampleServer } = await import(${JSON.stringify(server)})
      const s = await startExampleServer({ port: 0, relayPort: 0, dbPath: ':memory:', skipBuild: true, outDir: ${JSON.stringify(dir)} })
      process.stdout.write('ready ' + new URL(s.url).port + ' ' + s.relayPort + '\\n')`
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    h.defer(async () => {
      if (alive(child)) child.kill('SIGKILL')
      await exited
    })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const ports = await deadline(
      new Promise<[number, number]>((resolve, reject) => {
        let out = ''
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /ready (\d+) (\d+)/.exec(out)
          if (m) resolve([Number(m[1]), Number(m[2])])
        })
        child.once('exit', (code) => reject(new Error(`example server exited (${code}): ${stderr}`)))
      }),
      15_000,
      'the example server starts',
    )
    for (const port of ports) {
      for (const { what, bytes, end } of HOSTILE) {
        await send(port, bytes, end)
        const health = await fetch(`http://127.0.0.1:${ports[1]}/healthz`).catch(() => null)
        expect(health?.status, `the example server died on ${what} (port ${port}): ${stderr}`).toBe(200)
      }
    }
    expect(status(await send(ports[1], upgrade('/%E0%A4%A')))).toBe(400)
    expect(status(await send(ports[0], 'GET // HTTP/1.1\r\nHost: x\r\n\r\n'))).toBe(400)
    expect((await fetch(`http://127.0.0.1:${ports[0]}/`)).status).toBe(200)
    expect((await fetch(`http://127.0.0.1:${ports[1]}/healthz`)).status).toBe(200)
  })
})
