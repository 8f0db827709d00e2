/**
 * Which Chromium the browser suites drive: Debian's where it is installed, otherwise the one the
 * `@sparticuz/chromium` devDependency ships (a headless shell with almost no shared-library
 * needs), so `npm test` runs on a fresh machine without apt-get and without a browser download.
 *
 *   COLLOQUY_CHROMIUM=system    Debian's (`CHROMIUM_PATH`, default /usr/bin/chromium); an error if absent
 *   COLLOQUY_CHROMIUM=bundled   the npm package's, even where Debian's is installed
 *   (unset)                     system if present, else bundled
 *
 * The bundled one links to NSS, NSPR and expat: the system's where installed, else the copies the
 * package ships (COLLOQUY_CHROMIUM_LIBS=bundled uses those even where the system has its own).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brotliDecompressSync } from 'node:zlib'

export const SYSTEM_CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface ChromiumChoice {
  kind: 'system' | 'bundled'
  executablePath: string
  /** Extra environment for the browser process (the bundled one's fonts). */
  env: Record<string, string>
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)

/** The package's folder, found from its entry point (its package.json is not exported). */
const packageDir = (): string =>
  join(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..', '..')

/**
 * Unpacks the bundled Chromium once per package version into node_modules/.cache. The package
 * itself unpacks into the shared os.tmpdir() and trusts whatever it finds there (another project's
 * version, or half a binary from an interrupted run), so it runs in a child whose TMPDIR is a
 * private staging folder that is renamed into place only when complete.
 */
const unpackBundled = async (): Promise<string> => {
  const pkg = packageDir()
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
  const cache = join(ROOT, 'node_modules', '.cache', 'colloquy-chromium')
  const target = join(cache, `${version}-with-libs`)
  if (existsSync(join(target, 'chromium'))) return target
  const staging = join(cache, `${version}.partial-${process.pid}-${Date.now()}`)
  mkdirSync(staging, { recursive: true })
  try {
    const script = "const c = (await import('@sparticuz/chromium')).default; await c.executablePath()"
    await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: staging },
      timeout: 120_000,
    })
    // The NSS, NSPR and expat libraries it links to, which a slim system lacks. The package
    // unpacks them on Amazon Linux only; built there against glibc 2.34, they load on newer
    // systems too (Debian 12 has 2.36). Used only where the system's are missing (see below).
    const libs = join(staging, 'al2023.tar')
    writeFileSync(libs, brotliDecompressSync(readFileSync(join(pkg, 'bin', 'al2023.tar.br'))))
    await run('tar', ['-xf', libs, '-C', staging])
    rmSync(libs)
    // Its fonts.conf names /tmp/fonts; ours names where the fonts are, plus the system's.
    writeFileSync(
      join(staging, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n` +
        `  <dir>${join(target, 'fonts')}</dir>\n  <cachedir>${join(target, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    )
    try {
      renameSync(staging, target)
    } catch (error) {
      // Another process finished first: use its copy.
      if (!existsSync(join(target, 'chromium'))) throw error
    }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  return target
}

/** Whether the system lacks a shared library `binary` links to (or cannot tell: no ldd). */
const lacksLibraries = async (binary: string): Promise<boolean> => {
  try {
    return (await run('ldd', [binary])).stdout.includes('not found')
  } catch {
    return true
  }
}

export const chooseChromium = async (): Promise<ChromiumChoice> => {
  const wanted = process.env.COLLOQUY_CHROMIUM ?? 'auto'
  if (wanted !== 'auto' && wanted !== 'system' && wanted !== 'bundled')
    throw new Error(`COLLOQUY_CHROMIUM must be system, bundled or unset, not ${JSON.stringify(wanted)}`)
  if (wanted === 'system' || (wanted === 'auto' && existsSync(SYSTEM_CHROMIUM))) {
    if (!existsSync(SYSTEM_CHROMIUM))
      throw new Error(`COLLOQUY_CHROMIUM=system but no Chromium at ${SYSTEM_CHROMIUM} (set CHROMIUM_PATH)`)
    return { kind: 'system', executablePath: SYSTEM_CHROMIUM, env: {} }
  }
  const dir = await unpackBundled()
  const executablePath = join(dir, 'chromium')
  const env: Record<string, string> = { FONTCONFIG_FILE: join(dir, 'fonts.conf') }
  // The system's libraries where it has them (kept current by its updates), the bundled ones where not.
  if (process.env.COLLOQUY_CHROMIUM_LIBS === 'bundled' || (await lacksLibraries(executablePath)))
    env.LD_LIBRARY_PATH = [join(dir, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':')
  return { kind: 'bundled', executablePath, env }
}
