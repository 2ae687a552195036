import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { admin } from './helpers'

const run = promisify(execFile)

/** A private streaming replica of the shared primary (5433), that a test may kill, restart or promote. */
export interface ThrowawayReplica {
  readonly url: string
  readonly port: number
  /** Kills it (`pg_ctl stop -m immediate`: the postmaster and its backends die at once, as in a crash). */
  kill(): Promise<void>
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>
  /** `pg_promote()`: it leaves recovery and becomes writable. */
  promote(): Promise<void>
  /** Stops it, deletes its data and drops its replication slot on the primary. */
  destroy(): Promise<void>
}

function pgBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a))
  for (const v of versions) {
    const path = `/usr/lib/postgresql/${v}/bin/${name}`
    if (existsSync(path)) return path
  }
  throw new Error(`${name} not found under /usr/lib/postgresql`)
}

async function asPostgres(cmd: string, args: string[]): Promise<void> {
  await run('runuser', ['-u', 'postgres', '--', pgBin(cmd), ...args], { cwd: '/', timeout: 120_000 })
}

/**
 * pg_basebackup -R -X stream -C -S <unique slot> into a temp dir, started on a spare port (about 3 s),
 * with `settings` as server options (`{ recovery_min_apply_delay: '500ms' }`).
 */
export async function startThrowawayReplica(
  settings: Readonly<Record<string, string>> = {},
): Promise<ThrowawayReplica> {
  const primary = new URL(serviceUrls.pgPrimary)
  const slot = uniqueName('slot')
  const dir = mkdtempSync(join(tmpdir(), 'sk-replica-'))
  chownSync(dir, uidOf('postgres'), gidOf('postgres'))
  const port = await freePort()
  const url = `postgres://postgres@127.0.0.1:${port}/test`
  await asPostgres('pg_basebackup', [
    '-h',
    primary.hostname,
    '-p',
    primary.port || '5432',
    '-U',
    'postgres',
    '-D',
    dir,
    '-R',
    '-X',
    'stream',
    '-C',
    '-S',
    slot,
    '-c',
    'fast',
    '-N',
  ])
  const start = async (): Promise<void> => {
    const extra = Object.entries(settings)
      .map(([name, value]) => ` -c ${name}=${value}`)
      .join('')
    const opts = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c hot_standby=on -c cluster_name=${slot}${extra}`
    await asPostgres('pg_ctl', [
      '-D',
      dir,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      opts,
      'start',
    ])
  }
  const stop = async (mode: 'immediate' | 'fast'): Promise<void> => {
    await asPostgres('pg_ctl', ['-D', dir, '-m', mode, '-w', '-t', '60', 'stop']).catch(() => undefined)
  }
  const destroy = async (): Promise<void> => {
    await stop('immediate')
    rmSync(dir, { recursive: true, force: true })
    for (let i = 0; i < 50; i++) {
      const rows = await admin<{ active: boolean }>(
        serviceUrls.pgPrimary,
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      )
      if (rows.length === 0) return
      if (rows[0]?.active === false) {
        await admin(serviceUrls.pgPrimary, 'SELECT pg_drop_replication_slot($1)', [slot]).catch(
          () => undefined,
        )
      } else await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  try {
    await start()
  } catch (error) {
    await destroy()
    throw error
  }
  return {
    url,
    port,
    kill: () => stop('immediate'),
    start,
    promote: async () => {
      await admin(url, 'SELECT pg_promote(true, 30)')
    },
    destroy,
  }
}

function uidOf(user: string): number {
  return Number(idOf(user, 2))
}
function gidOf(user: string): number {
  return Number(idOf(user, 3))
}
function idOf(user: string, field: number): string {
  // /etc/passwd: name:x:uid:gid:...
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`))
  const value = line?.split(':')[field]
  if (value === undefined) throw new Error(`no user ${user}`)
  return value
}
