import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

export interface EmbeddedPostgres {
  /** A `postgres://` URL the real `pg` driver (and so the db-router) connects to. */
  readonly url: string
  close(): Promise<void>
}

/**
 * The pool size to use against an embedded Postgres: one connection. PGlite is one Postgres
 * session, which the socket server shares between its connections message by message: a
 * transaction is kept to its own connection, but another connection's statement that was parsed
 * just before it starts loses its unnamed prepared statement and portal to it ("portal "" does not
 * exist", or the transaction's rows). PGlite runs one statement at a time anyway.
 */
export const EMBEDDED_POOL_SIZE = 1

/**
 * Postgres compiled to WebAssembly (PGlite), in memory, served over the Postgres wire protocol on
 * a free loopback port. The socket server accepts one connection unless told otherwise and drops
 * the next ones: `maxConnections` leaves room for a pool replacing a connection it closes.
 */
export async function startEmbeddedPostgres(maxConnections = 4): Promise<EmbeddedPostgres> {
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
