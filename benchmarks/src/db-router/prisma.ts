/**
 * Prisma 7 with `@prisma/extension-read-replicas`, on the `pg` driver adapter (`@prisma/adapter-pg`)
 * and the WASM query compiler: everything comes from the npm registry, no engine binary.
 *
 * The client is generated at run time for this run's table (Prisma maps a model to a fixed table
 * name) into benchmarks/node_modules/.cache, and deleted at the end. `prisma generate` itself
 * needs no schema engine, but the CLI checks for one at start and would download it from Prisma's
 * binary host (unreachable here): `PRISMA_SCHEMA_ENGINE_BINARY` points that check at a dummy path.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import type { DbBenchContext } from './context'
import type { Subject } from './subjects'

const run = promisify(execFile)
const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url))

/** The slice of a generated PrismaClient the bench uses. */
interface RowDelegate {
  findUnique(args: { where: { id: number } }): Promise<{ id: number; val: number; name: string } | null>
  update(args: { where: { id: number }; data: { val: number } }): Promise<unknown>
}
export interface PrismaLike {
  row: RowDelegate
  rowPort: { findUnique(args: { where: { id: number } }): Promise<{ id: number; port: number } | null> }
  $queryRawUnsafe<T>(query: string, ...values: unknown[]): Promise<T>
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>
  $transaction<T>(fn: (tx: PrismaLike) => Promise<T>): Promise<T>
  $disconnect(): Promise<void>
}

export interface PrismaSubject extends Subject {
  readonly client: PrismaLike
}

export interface PrismaKit {
  /** A client on the primary with the read-replicas extension over `replicaUrls`. */
  create(replicaUrls: readonly string[]): PrismaSubject
  /** Removes the generated client. */
  dispose(): void
}

/** Generates the client for this run's table; rejects with the reason when Prisma cannot run here. */
export async function preparePrisma(ctx: DbBenchContext): Promise<PrismaKit> {
  const dir = join(BENCH_DIR, 'node_modules', '.cache', `skbench-prisma-${ctx.runId}`)
  mkdirSync(dir, { recursive: true })
  const schema = join(dir, 'schema.prisma')
  writeFileSync(
    schema,
    `generator client {
  provider     = "prisma-client"
  output       = "./client"
  moduleFormat = "esm"
}
datasource db {
  provider = "postgresql"
}
model Row {
  id   Int    @id
  val  Int
  name String
  @@map("${ctx.table}")
}
model RowPort {
  id   Int @id
  port Int
  @@map("${ctx.table}_port")
}
`,
  )
  try {
    await run(join(BENCH_DIR, 'node_modules', '.bin', 'prisma'), ['generate', '--schema', schema], {
      cwd: dir,
      timeout: 60_000,
      env: {
        ...process.env,
        PRISMA_SCHEMA_ENGINE_BINARY: '/bin/false',
        PRISMA_HIDE_UPDATE_MESSAGE: '1',
        CHECKPOINT_DISABLE: '1',
      },
    })
    const generated = (await import(pathToFileURL(join(dir, 'client', 'client.ts')).href)) as {
      PrismaClient: new (options: unknown) => PrismaLike
    }
    const { PrismaPg } = await import('@prisma/adapter-pg')
    const { readReplicas } = await import('@prisma/extension-read-replicas')
    const make = (url: string): PrismaLike =>
      new generated.PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })
    return {
      create: (replicaUrls) => {
        const replicas = replicaUrls.map(make)
        const base = make(ctx.primaryUrl) as PrismaLike & { $extends(ext: unknown): PrismaLike }
        const client = base.$extends(readReplicas({ replicas: replicas as never }))
        return {
          name: 'Prisma read-replicas',
          client,
          readPoint: (id) => client.row.findUnique({ where: { id } }),
          readVal: async (id) => (await client.row.findUnique({ where: { id } }))?.val,
          // $queryRaw goes to the primary with this extension; model reads go to a replica. The model
          // RowPort is a view adding inet_server_port(), so a model read tells which node served it.
          readPort: async (id) => (await client.rowPort.findUnique({ where: { id } }))!.port,
          writeVal: async (id, val) => {
            await client.row.update({ where: { id }, data: { val } })
          },
          unit: (fn) => fn(),
          close: async () => {
            await client.$disconnect()
            await Promise.all(replicas.map((r) => r.$disconnect()))
          },
        }
      },
      dispose: () => {
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}
