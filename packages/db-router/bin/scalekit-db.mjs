#!/usr/bin/env node
// scalekit-db: operator commands for @scalekit/db-router shards (see the README's "Shards" section).
/* global process */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { createShardedRouter, initDirectory, moveBucket } from '../dist/shards.js'

const USAGE = `usage:
  scalekit-db init-directory --config shards.json
  scalekit-db move-bucket    --config shards.json --bucket <n> --to <shard> --tables <t1,t2,...>
  scalekit-db bucket-of      --config shards.json --key <key>

shards.json: { "shards": { "<name>": "<postgres url>" | { "primary": "...", "replicas": [...] } },
               "map": { "strategy": "directory", "home": "<name>", ... }, "shardColumn": "<column>" }
Every step of move-bucket is resumable: if it is interrupted, run the same command again.`

function fail(message, code = 2) {
  process.stderr.write(`scalekit-db: ${message}\n`)
  process.exit(code)
}

let parsed
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      bucket: { type: 'string' },
      to: { type: 'string' },
      tables: { type: 'string' },
      key: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
} catch (error) {
  fail(`${error.message}\n${USAGE}`)
}
const { values, positionals } = parsed
const command = positionals[0]
if (values.help || command === undefined) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(values.help ? 0 : 2)
}
if (values.config === undefined) fail(`--config is required\n${USAGE}`)
let config
try {
  config = JSON.parse(readFileSync(values.config, 'utf8'))
} catch (error) {
  fail(`cannot read ${values.config}: ${error.message}`)
}
const shards = Object.fromEntries(
  Object.entries(config.shards ?? {}).map(([name, s]) => [name, typeof s === 'string' ? { primary: s } : s]),
)

let db
try {
  db = createShardedRouter({ ...config, shards, logger: { warn: () => undefined } })
} catch (error) {
  fail(`${error.code ?? 'error'}: ${error.message}`)
}
try {
  if (command === 'init-directory') {
    await initDirectory(db)
    process.stdout.write(`${JSON.stringify({ initialized: true, shards: db.shardNames })}\n`)
  } else if (command === 'bucket-of') {
    if (values.key === undefined) fail('--key is required')
    await db.ready()
    process.stdout.write(
      `${JSON.stringify({ key: values.key, bucket: db.map.bucketOf(values.key), shard: db.shardOf(values.key) })}\n`,
    )
  } else if (command === 'move-bucket') {
    if (values.bucket === undefined || values.to === undefined || values.tables === undefined)
      fail(`move-bucket needs --bucket, --to and --tables\n${USAGE}`)
    await db.ready()
    const result = await moveBucket(db, {
      bucket: Number(values.bucket),
      to: values.to,
      tables: values.tables
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== ''),
      onStep: (step) => {
        process.stdout.write(`${JSON.stringify({ step, at: new Date().toISOString() })}\n`)
      },
    })
    process.stdout.write(`${JSON.stringify({ done: true, ...result })}\n`)
  } else {
    fail(`unknown command ${command}\n${USAGE}`)
  }
} catch (error) {
  process.stderr.write(`scalekit-db: ${error.code ?? 'error'}: ${error.message}\n`)
  if (error.cause instanceof Error) process.stderr.write(`  cause: ${error.cause.message}\n`)
  process.exitCode = 1
} finally {
  await db.close()
}
