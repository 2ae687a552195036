/**
 * Built-in functions a read must not run on a replica: they write (sequences, large objects,
 * replication slots), take locks that a standby grants without protecting anything (advisory
 * locks), assign a transaction id, read state that only exists in the session that set it
 * (`currval`, `lastval`), or fail on a standby (`pg_current_wal_lsn`, 55000). Matched on the
 * function's name, schema-qualified or not.
 */
const WRITE_FUNCTIONS: ReadonlySet<string> = new Set([
  'nextval',
  'setval',
  'currval',
  'lastval',
  'txid_current',
  'pg_current_xact_id',
  'txid_current_if_assigned',
  'pg_current_xact_id_if_assigned',
  'set_config',
  'pg_notify',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_logical_emit_message',
  'pg_export_snapshot',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'pg_import_system_collations',
  'pg_log_backend_memory_contexts',
  'lo_create',
  'lo_creat',
  'lo_import',
  'lo_unlink',
  'lo_put',
  'lo_from_bytea',
  'lo_open',
  'lo_truncate',
  'lowrite',
  'dblink_exec',
  'setseed',
])

/** Name prefixes of built-in writing or locking families (advisory locks, slots, stats resets, replication origins). */
const WRITE_PREFIXES: readonly string[] = [
  'pg_advisory_',
  'pg_try_advisory_',
  'pg_create_',
  'pg_drop_',
  'pg_replication_origin_',
  'pg_replication_slot_',
  'pg_stat_reset',
  'pg_copy_',
  'pg_sequence_',
  'pg_logical_slot_',
]

/** True for a built-in that must run on the primary; `name` is the unqualified, lower-case name. */
export function isBuiltinWriteFunction(name: string): boolean {
  return WRITE_FUNCTIONS.has(name) || WRITE_PREFIXES.some((p) => name.startsWith(p))
}
