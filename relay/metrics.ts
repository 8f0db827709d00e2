/**
 * What the relay exposes at `GET /metrics` (Prometheus text format), built with prom-client.
 *
 * Each relay has its own registry (several relays may run in one process: tests, a server that
 * embeds two). Process and runtime series (RSS, CPU, event-loop lag, GC, heap) describe the whole
 * process, so they come from one registry shared by every relay in it, created with the first.
 * Neither is prom-client's global default registry, which belongs to the application.
 *
 * The counters are plain fields that the relay's code increments (cheap on the hot path, and
 * readable by tests); prom-client reads them when scraped. Labelled series start at zero for every
 * label value known in advance, so a dashboard sees `rate` before the first refusal.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { RELAY_VERSION } from './version.ts'

/** Reasons the relay refuses a connection, a frame or an update (`colloquy_rejections_total{reason}`). */
export const REJECTION_REASONS: readonly string[] = [
  'bad_request',
  'unauthorized',
  'token_expired',
  'pre_auth',
  'connections_per_identity',
  'malformed',
  'rate',
  'frame_size',
  'not_participant',
  'documents_per_connection',
  'documents_per_identity',
  'awareness_entries',
  'awareness_second_client',
  'awareness_user_document',
  'awareness_client_ids',
  'awareness_empty',
  'restore_take_back',
  'restore_conflict',
  'update_rejected',
]

/** Where an exception that is a relay bug was caught (`colloquy_relay_errors_total{where}`). */
export const RELAY_ERROR_SITES: readonly string[] = ['http', 'upgrade', 'authenticate', 'frame', 'core']

let processRegistry: Registry | null = null

/** The process-wide series, started once per process (GC and event-loop observers are not free). */
const processMetrics = (): Registry => {
  if (!processRegistry) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Counters and gauges of one relay. */
export class RelayMetrics {
  connections = 0
  connectionsTotal = 0
  framesReceived = 0
  bytesReceived = 0
  framesSent = 0
  bytesSent = 0
  updatesApplied = 0
  messagesSequenced = 0
  /** Refusals counted so far, by reason (only reasons that happened). */
  readonly rejections = new Map<string, number>()
  /** Exceptions inside the update validator: relay bugs (the update is refused, and logged as `validator_error`). */
  validatorErrors = 0
  storeWrites = 0
  storeSecondsSum = 0
  /** This relay's own series (the process ones are added by `render`). */
  readonly registry = new Registry()
  #loaded = 0
  #asleep = 0
  readonly #rejections: Counter<'reason'>
  readonly #errors: Counter<'where'>
  readonly #store: Histogram
  readonly #delivery: Histogram

  constructor() {
    processMetrics()
    const registers = [this.registry]
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read())
        },
      })
    }
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read())
        },
      })
    }
    new Gauge({
      name: 'colloquy_build_info',
      help: 'The colloquy version and the Node version the relay runs on (always 1).',
      labelNames: ['version', 'node'],
      registers,
    }).set({ version: RELAY_VERSION, node: process.version }, 1)
    gauge('colloquy_connections', 'Open WebSocket connections.', () => this.connections)
    counter('colloquy_connections_total', 'Connections accepted since start.', () => this.connectionsTotal)
    gauge('colloquy_documents_loaded', 'Documents held in memory.', () => this.#loaded)
    gauge('colloquy_documents_asleep', 'Subscribed documents not held in memory (asleep).', () => this.#asleep)
    counter('colloquy_frames_received_total', 'Frames received from clients.', () => this.framesReceived)
    counter('colloquy_bytes_received_total', 'Bytes of frames received from clients.', () => this.bytesReceived)
    counter('colloquy_frames_sent_total', 'Frames sent to clients.', () => this.framesSent)
    counter('colloquy_bytes_sent_total', 'Bytes of frames sent to clients.', () => this.bytesSent)
    counter('colloquy_updates_applied_total', 'Document updates accepted and applied.', () => this.updatesApplied)
    counter('colloquy_messages_sequenced_total', 'Messages stamped with an index.', () => this.messagesSequenced)
    counter(
      'colloquy_validator_errors_total',
      'Updates refused because the validator itself failed (relay bugs; see the validator_error log).',
      () => this.validatorErrors,
    )
    this.#rejections = new Counter({
      name: 'colloquy_rejections_total',
      help: 'Connections, frames or updates refused, by reason.',
      labelNames: ['reason'],
      registers,
    })
    for (const reason of REJECTION_REASONS) this.#rejections.inc({ reason }, 0)
    this.#errors = new Counter({
      name: 'colloquy_relay_errors_total',
      help: 'Exceptions in the relay while handling a request or frame (relay bugs; see the relay_error log).',
      labelNames: ['where'],
      registers,
    })
    for (const where of RELAY_ERROR_SITES) this.#errors.inc({ where }, 0)
    this.#store = new Histogram({
      name: 'colloquy_store_write_seconds',
      help: 'Time to store one update durably.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers,
    })
    this.#delivery = new Histogram({
      name: 'colloquy_delivery_seconds',
      help: 'Time from a frame arriving to the relay having handled it: checked, applied, stored, forwarded.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    })
  }

  /** Counts a refused connection, frame or update, by reason (`unauthorized`, `rate`, `frame_size`, …). */
  reject(reason: string): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1)
    this.#rejections.inc({ reason })
  }

  /** Counts an exception caught at `where` (one of `RELAY_ERROR_SITES`). */
  relayError(where: string): void {
    this.#errors.inc({ where })
  }

  /** Counts a frame sent to a client. */
  sent(bytes: number): void {
    this.framesSent++
    this.bytesSent += bytes
  }

  /** Records one store write's duration. */
  observeStore(seconds: number): void {
    this.storeWrites++
    this.storeSecondsSum += seconds
    this.#store.observe(seconds)
  }

  /** Records how long one frame took from arrival to handled. */
  observeDelivery(seconds: number): void {
    this.#delivery.observe(seconds)
  }

  /** The content type of `render`'s text. */
  get contentType(): string {
    return this.registry.contentType
  }

  /** The exposition text, this relay's series then the process's; document counts are read at scrape time. */
  async render(loadedDocuments: number, sleepingDocuments = 0): Promise<string> {
    this.#loaded = loadedDocuments
    this.#asleep = sleepingDocuments
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()])
    // prom-client separates metrics with blank lines; one metric per block reads better without them.
    return `${own}\n${process}`.replace(/\n{2,}/g, '\n')
  }
}
