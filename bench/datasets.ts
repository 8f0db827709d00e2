/** The generated conversations of the document-cost and cold-start scenarios, made once per size per run. */
import { Child, tempDir } from './proc.ts'
import { progress } from './stats.ts'

export interface Dataset {
  n: number
  dir: string
  restPerMsg: number
  jsonRestPerMsg: number
  wirePerMsg: number
  jsonWirePerMsg: number
  framesPerMsg: number
}

const made = new Map<number, Promise<Dataset>>()
const cleanups: Array<() => void> = []

/** Runs one `bench/doc-child.ts` command in a fresh process (with --expose-gc). */
export const docChild = async <T>(cmd: string, args: Record<string, unknown>, ms = 900_000): Promise<T> => {
  const child = new Child(`doc:${cmd}`, 'doc-child.ts', [], { gc: true })
  try {
    await child.ready
    return await child.call<T>(cmd, args, ms)
  } finally {
    await child.kill()
  }
}

/** The data of `n` messages (generated on first use). */
export const dataset = (n: number): Promise<Dataset> => {
  let p = made.get(n)
  if (!p) {
    const tmp = tempDir(`data-${n}`)
    cleanups.push(tmp.remove)
    progress(`generating a ${n}-message conversation`)
    p = docChild<Omit<Dataset, 'n' | 'dir'>>('generate', { n, dir: tmp.dir }).then((r) => ({ n, dir: tmp.dir, ...r }))
    made.set(n, p)
  }
  return p
}

/** Removes every generated dataset. */
export const removeDatasets = (): void => {
  for (const c of cleanups.splice(0)) c()
  made.clear()
}
