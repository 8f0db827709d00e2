/** Counters and gauges the relay exposes at `GET /metrics` (Prometheus text format). */
export class RelayMetrics {
  connections = 0
  connectionsTotal = 0
  framesReceived = 0
  updatesApplied = 0
  messagesSequenced = 0
  readonly rejections = new Map<string, number>()
  /** Exceptions inside the update validator: relay bugs (the update is refused, and logged as `validator_error`). */
  validatorErrors = 0
  storeWrites = 0
  storeSecondsSum = 0
  readonly #storeBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1]
  readonly #storeCounts = this.#storeBuckets.map(() => 0)

  /** Counts a refused connection or frame, by reason (`unauthorized`, `rate`, `frame_size`, …). */
  reject(reason: string): void {
    this.rejections.set(reason, (this.rejections.get(reason) ?? 0) + 1)
  }

  /** Records one store write's duration. */
  observeStore(seconds: number): void {
    this.storeWrites++
    this.storeSecondsSum += seconds
    this.#storeBuckets.forEach((le, i) => {
      if (seconds <= le) this.#storeCounts[i]!++
    })
  }

  /** The Prometheus exposition text; the document counts are read at scrape time. */
  render(loadedDocuments: number, sleepingDocuments = 0): string {
    const lines: string[] = []
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
    }
    metric('colloquy_connections', 'gauge', 'Open WebSocket connections.', [['', this.connections]])
    metric('colloquy_connections_total', 'counter', 'Connections accepted since start.', [['', this.connectionsTotal]])
    metric('colloquy_documents_loaded', 'gauge', 'Documents held in memory.', [['', loadedDocuments]])
    metric('colloquy_documents_asleep', 'gauge', 'Subscribed documents not held in memory (asleep).', [
      ['', sleepingDocuments],
    ])
    metric('colloquy_frames_received_total', 'counter', 'Frames received from clients.', [['', this.framesReceived]])
    metric('colloquy_messages_sequenced_total', 'counter', 'Messages stamped with an index.', [
      ['', this.messagesSequenced],
    ])
    metric(
      'colloquy_rejections_total',
      'counter',
      'Connections or frames refused, by reason.',
      [...this.rejections].map(([reason, n]) => [`{reason="${reason}"}`, n]),
    )
    metric('colloquy_validator_errors_total', 'counter', 'Updates refused because the validator failed (relay bugs).', [
      ['', this.validatorErrors],
    ])
    lines.push(
      '# HELP colloquy_store_write_seconds Time to store one update durably.',
      '# TYPE colloquy_store_write_seconds histogram',
    )
    for (const [i, le] of this.#storeBuckets.entries()) {
      lines.push(`colloquy_store_write_seconds_bucket{le="${le}"} ${this.#storeCounts[i]}`)
    }
    lines.push(`colloquy_store_write_seconds_bucket{le="+Inf"} ${this.storeWrites}`)
    lines.push(`colloquy_store_write_seconds_sum ${this.storeSecondsSum}`)
    lines.push(`colloquy_store_write_seconds_count ${this.storeWrites}`)
    return `${lines.join('\n')}\n`
  }
}
