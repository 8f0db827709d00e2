/** The relay's plain HTTP endpoints: `GET /healthz` and `GET /metrics`; anything else is 404. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RelayCore } from './core.ts'
import type { RelayMetrics } from './metrics.ts'

/**
 * Answers one HTTP request. Never throws: an exception (a relay bug) is passed to `onError` and
 * answered 500, since a request from the network must not end the process.
 */
export const answerHttp = (
  req: IncomingMessage,
  res: ServerResponse,
  relay: { metrics: RelayMetrics; core: RelayCore; onError: (error: unknown) => void },
): void => {
  const { metrics, core, onError } = relay
  const fail = (error: unknown): void => {
    onError(error)
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
    res.end()
  }
  try {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, connections: metrics.connections, documents: core.loadedDocuments }))
      return
    }
    if (req.method === 'GET' && path === '/metrics') {
      metrics.render(core.loadedDocuments, core.sleepingDocuments).then((text) => {
        res.writeHead(200, { 'content-type': metrics.contentType })
        res.end(text)
      }, fail)
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found\n')
  } catch (error) {
    fail(error)
  }
}
