import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

export interface EmbeddedPostgres {
  /** A `postgres://` URL the real `pg` driver (and so the db-router) connects to. */
  readonly url: string
  close(): Promise<void>
}

/**
 * Postgres compiled to WebAssembly (PGlite), in memory, served over the Postgres wire protocol on
 * a free loopback port. The socket server accepts one connection unless told otherwise, and drops
 * a pool's second one: `maxConnections` must be at least the pool size.
 */
export async function startEmbeddedPostgres(maxConnections = 20): Promise<EmbeddedPostgres> {
  const db = await PGlite.create()
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections })
  await server.start()
  const port = server.getServerConn().split(':').at(-1)
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async close() {
      await server.stop()
      await db.close()
    },
  }
}
