/**
 * A relay in its own process, for the benchmarks (run with --expose-gc):
 *
 *     node --expose-gc bench/relay-child.ts colloquy [--db <file>] [--idle <ms>]
 *     node --expose-gc bench/relay-child.ts yws       # @y/websocket-server 0.1.1, stock
 *     node --expose-gc bench/relay-child.ts raw       # ws, forwards text frames within a room
 *
 * It listens on 127.0.0.1 (any free port), says `ready` with the port over IPC and answers
 * `stats` with its CPU time, its memory after a full GC, its open sockets and loaded documents.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { parseArgs } from 'node:util'
import { type RawData, type WebSocket, WebSocketServer } from 'ws'
import { createRelay } from '../relay/index.ts'
import { NO_QUOTAS } from '../relay/quotas.ts'
import { gc, SECRET, serve } from './proc.ts'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { db: { type: 'string' }, idle: { type: 'string' } },
})
const kind = positionals[0]

let connections: () => number
let documents: () => number
let close: () => Promise<void>
let port: number

const listenPlain = async (onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void) => {
  const http = createServer((_req, res) => {
    res.writeHead(404)
    res.end()
  })
  http.on('upgrade', onUpgrade)
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()))
  return http
}

if (kind === 'colloquy') {
  const relay = await createRelay({
    auth: { secret: SECRET },
    dataPath: values.db ?? ':memory:',
    idleUnloadMs: values.idle ? Number(values.idle) : undefined,
    sleepAfterMs: values.idle ? Number(values.idle) : undefined,
    // One seeder creates every conversation of a scenario.
    limits: { ...NO_QUOTAS },
  })
  port = await relay.listen(0, '127.0.0.1')
  connections = () => relay.metrics.connections
  documents = () => relay.core.loadedDocuments
  close = () => relay.close()
} else if (kind === 'yws') {
  const { setupWSConnection, docs } = await import('@y/websocket-server/utils')
  const wss = new WebSocketServer({ noServer: true })
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => setupWSConnection(ws, req))
  const http = await listenPlain((req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  )
  port = (http.address() as AddressInfo).port
  connections = () => wss.clients.size
  documents = () => docs.size
  close = async () => {
    for (const ws of wss.clients) ws.terminate()
    http.close()
  }
} else if (kind === 'raw') {
  // The ceiling: no CRDT, no history, no auth. A room is the URL path; every text frame goes to
  // the other sockets of the room as it came.
  const rooms = new Map<string, Set<WebSocket>>()
  const wss = new WebSocketServer({ noServer: true })
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const name = (req.url ?? '/').split('?')[0]!
    let room = rooms.get(name)
    if (!room) {
      room = new Set()
      rooms.set(name, room)
    }
    const members = room
    members.add(ws)
    ws.on('message', (data: RawData, isBinary: boolean) => {
      for (const other of members) if (other !== ws) other.send(data, { binary: isBinary })
    })
    ws.on('close', () => {
      members.delete(ws)
      if (members.size === 0) rooms.delete(name)
    })
    ws.on('error', () => {})
  })
  const http = await listenPlain((req, socket, head) =>
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
  )
  port = (http.address() as AddressInfo).port
  connections = () => wss.clients.size
  documents = () => rooms.size
  close = async () => {
    for (const ws of wss.clients) ws.terminate()
    http.close()
  }
} else {
  process.stderr.write(`unknown relay kind ${kind}\n`)
  process.exit(2)
}

serve(
  {
    stats: () => {
      // CPU first: the collection below is the benchmark's, not the relay's.
      const cpu = process.cpuUsage()
      gc()
      const mem = process.memoryUsage()
      return {
        cpu,
        mem: { rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external },
        connections: connections(),
        documents: documents(),
      }
    },
    close: async () => {
      await close()
      setTimeout(() => process.exit(0), 10)
      return true
    },
  },
  { port },
)
