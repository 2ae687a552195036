import type { ChildProcess } from 'node:child_process'

const live = new Set<ChildProcess>()
let hooked = false

/**
 * Kills `child` with SIGKILL if this process exits first: a test that fails or times out must
 * not leave workers or a private redis-server running behind it, holding ports.
 */
export function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL')
    })
  }
  live.add(child)
  child.once('exit', () => live.delete(child))
}
