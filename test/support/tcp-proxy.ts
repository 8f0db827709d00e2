import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/** A TCP proxy in front of a relay: `cut()` drops every socket and refuses new ones until `restore()`. */
export class TcpProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #online = true
  #target: number
  port = 0

  constructor(targetPort: number) {
    this.#target = targetPort
    this.#server = createServer((client) => {
      if (!this.#online) {
        client.destroy()
        return
      }
      const upstream = tcpConnect(this.#target, '127.0.0.1')
      this.#sockets.add(client)
      this.#sockets.add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        this.#sockets.delete(client)
        this.#sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  get online(): boolean {
    return this.#online
  }

  /** Live piped sockets (two per proxied connection). */
  get openSockets(): number {
    return this.#sockets.size
  }

  listen(): Promise<number> {
    return new Promise((resolve) => {
      this.#server.listen(0, '127.0.0.1', () => {
        this.port = (this.#server.address() as { port: number }).port
        resolve(this.port)
      })
    })
  }

  retarget(port: number): void {
    this.#target = port
  }

  cut(): void {
    this.#online = false
    for (const s of this.#sockets) s.destroy()
    this.#sockets.clear()
  }

  restore(): void {
    this.#online = true
  }

  close(): Promise<void> {
    this.cut()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
