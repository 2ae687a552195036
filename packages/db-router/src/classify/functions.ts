/**
 * The built-in functions of PostgreSQL, sorted by where a statement calling them may run. The rule
 * (issue 12, defect 12): a `VOLATILE` built-in is a write — it goes to the primary — unless it is on
 * {@link READ_ONLY_VOLATILE}, a reviewed list of volatile built-ins that write nothing, take no lock,
 * leave no session state behind, run on a standby and answer there as they would on the primary.
 * `test/integration/volatile-census.test.ts` lists every volatile function in `pg_proc` of the server
 * under test and fails on one that is in neither this list nor the primary's, so a new server
 * version's functions are reviewed before they are routed.
 */

/**
 * Volatile built-ins that are reads: values that change per call (`random`, `clock_timestamp`,
 * `gen_random_uuid`…), waiting (`pg_sleep…`), sizes and catalog reads that a physical replica
 * answers like the primary, the current transaction's own statistics, and the recovery functions
 * whose purpose is to be asked of a standby (`pg_is_in_recovery`, `pg_last_wal_replay_lsn`…;
 * address one node with `db.primary.query()` / `db.replicas[i].query()` to ask that node).
 */
const READ_ONLY_VOLATILE: ReadonlySet<string> = new Set([
  'random',
  'clock_timestamp',
  'timeofday',
  'gen_random_uuid',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'current_query',
  'pg_jit_available',
  'pg_database_size',
  'pg_relation_size',
  'pg_table_size',
  'pg_indexes_size',
  'pg_total_relation_size',
  'pg_tablespace_size',
  'pg_partition_tree',
  'pg_partition_ancestors',
  'pg_collation_actual_version',
  'pg_database_collation_actual_version',
  'pg_get_wal_resource_managers',
  'pg_is_in_recovery',
  'pg_is_wal_replay_paused',
  'pg_get_wal_replay_pause_state',
  'pg_last_wal_receive_lsn',
  'pg_last_wal_replay_lsn',
  'pg_last_xact_replay_timestamp',
  'pg_stat_have_stats',
  'pg_stat_get_recovery_prefetch',
  'pg_stat_get_xact_blocks_fetched',
  'pg_stat_get_xact_blocks_hit',
  'pg_stat_get_xact_function_calls',
  'pg_stat_get_xact_function_self_time',
  'pg_stat_get_xact_function_total_time',
  'pg_stat_get_xact_numscans',
  'pg_stat_get_xact_tuples_deleted',
  'pg_stat_get_xact_tuples_fetched',
  'pg_stat_get_xact_tuples_hot_updated',
  'pg_stat_get_xact_tuples_inserted',
  'pg_stat_get_xact_tuples_returned',
  'pg_stat_get_xact_tuples_updated',
  // TABLESAMPLE methods (their handlers are volatile; `TABLESAMPLE system (10)` is a read).
  'bernoulli',
  'system',
])

/**
 * Built-ins a statement must run on the primary for: they write (sequences, large objects, index
 * maintenance, replication slots and origins), take locks that a standby grants without protecting
 * anything (advisory locks), assign a transaction id, run SQL given as text (`query_to_xml`,
 * `cursor_to_xml`, `ts_stat`, `ts_rewrite` — which could take a lock or call anything), read state
 * that exists only in the session that set it (`currval`, `lastval`, `lo_*` descriptors), describe
 * the primary's own sessions, transactions and files (`pg_lock_status`, `pg_xact_status`,
 * `pg_ls_dir`…), fail on a standby (`pg_current_wal_lsn`, `brin_summarize_*`, 55000), or are
 * internal (handlers, triggers, `binary_upgrade_*`). Matched on the function's name, schema-qualified
 * or not, whatever its volatility.
 */
const PRIMARY_FUNCTIONS: ReadonlySet<string> = new Set([
  'nextval',
  'setval',
  'currval',
  'lastval',
  'txid_current',
  'pg_current_xact_id',
  'txid_current_if_assigned',
  'pg_current_xact_id_if_assigned',
  'txid_status',
  'set_config',
  'setseed',
  'pg_notify',
  'pg_notification_queue_usage',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_logical_emit_message',
  'pg_export_snapshot',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_rotate_logfile_old',
  'pg_current_logfile',
  'pg_promote',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'pg_import_system_collations',
  'pg_log_backend_memory_contexts',
  'pg_get_backend_memory_contexts',
  'pg_get_shmem_allocations',
  'pg_stat_clear_snapshot',
  'pg_stat_force_next_flush',
  'pg_stat_file',
  'pg_show_all_file_settings',
  'pg_hba_file_rules',
  'pg_ident_file_mappings',
  'pg_show_replication_origin_status',
  'pg_lock_status',
  'pg_blocking_pids',
  'pg_safe_snapshot_blocking_pids',
  'pg_isolation_test_session_is_blocked',
  'pg_last_committed_xact',
  'pg_get_multixact_members',
  'pg_prepared_xact',
  'pg_nextoid',
  'pg_extension_config_dump',
  'pg_stop_making_pinned_objects',
  'gin_clean_pending_list',
  'ts_stat',
  'ts_rewrite',
  'loread',
  'lowrite',
  'dblink',
  'dblink_exec',
  'currtid2',
  'amvalidate',
  'unique_key_recheck',
  'suppress_redundant_updates_trigger',
  'tsvector_update_trigger',
  'tsvector_update_trigger_column',
  'brinhandler',
  'bthandler',
  'ginhandler',
  'gisthandler',
  'hashhandler',
  'spghandler',
  'heap_tableam_handler',
])

/** Name prefixes of families that go to the primary (see {@link PRIMARY_FUNCTIONS}). */
const PRIMARY_PREFIXES: readonly string[] = [
  'pg_advisory_',
  'pg_try_advisory_',
  'pg_create_',
  'pg_drop_',
  'pg_copy_',
  'pg_replication_origin_',
  'pg_replication_slot_',
  'pg_logical_slot_',
  'pg_sequence_',
  'pg_stat_reset',
  'pg_backup_',
  'pg_control_',
  'pg_ls_',
  'pg_read_',
  'pg_xact_',
  'lo_',
  'brin_',
  'query_to_xml',
  'cursor_to_xml',
  'binary_upgrade_',
  'ri_fkey_',
  'plpgsql_',
  'dsnowball_',
]

/** True for a built-in that must run on the primary; `name` is the unqualified, lower-case name. */
export function isBuiltinWriteFunction(name: string): boolean {
  return PRIMARY_FUNCTIONS.has(name) || PRIMARY_PREFIXES.some((p) => name.startsWith(p))
}

/** True for a volatile built-in reviewed as a read (`random`, `clock_timestamp`…); `name` as above. */
export function isReadOnlyVolatile(name: string): boolean {
  return READ_ONLY_VOLATILE.has(name)
}
