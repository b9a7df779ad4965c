/* The state store: creation, round trips, serial, journal, lock, refusal. */
#include <check.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nestplan/sigv4.h"
#include "nestplan/state.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/np-state-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nestplan.db", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct np_state *open_ok(void)
{
	struct np_state *st = NULL;
	struct np_err err = NP_ERR_INIT;

	ck_assert_msg(np_state_open(&st, path, NP_STATE_CREATE, &err) == 0, "%s", err.msg);
	return st;
}

static void file_hash(const char *p, char out[65])
{
	FILE *f = fopen(p, "rb");
	char buf[1 << 16];
	size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;

	if (f)
		fclose(f);
	np_sha256_hex(buf, n, out);
}

static char *read_all(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	char *data;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	data = malloc(*n);
	ck_assert_uint_eq(fread(data, 1, *n, f), *n);
	fclose(f);
	return data;
}

static void write_file(const char *p, const void *data, size_t n)
{
	FILE *f = fopen(p, "wb");

	fwrite(data, 1, n, f);
	fclose(f);
}

START_TEST(test_state_create_sets_lineage_serial_and_mode)
{
	struct np_state *st;
	struct stat sb;
	mode_t old = umask(0);

	st = open_ok();
	umask(old);
	ck_assert_uint_eq(strlen(np_state_lineage(st)), 36);
	ck_assert_int_eq(np_state_serial(st), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_reopen_keeps_lineage)
{
	struct np_state *st = open_ok();
	char lineage[40];

	snprintf(lineage, sizeof(lineage), "%s", np_state_lineage(st));
	np_state_close(st);
	st = open_ok();
	ck_assert_str_eq(np_state_lineage(st), lineage);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_missing_without_create_is_refused)
{
	struct np_state *st = NULL;
	struct np_err err = NP_ERR_INIT;

	ck_assert_int_eq(np_state_open(&st, path, 0, &err), -1);
	ck_assert(strstr(err.msg, "nestplan init"));
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_state_resource_round_trip_and_serial)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_instance in = { 0 }, out = { 0 }, *all = NULL;
	size_t n = 0;
	bool found;

	in.address = "runner[0]";
	in.instance_id = "i-0123456789abcdef0";
	in.instance_type = "m8i.2xlarge";
	in.core_count = 4;
	in.threads_per_core = 2;
	in.nested_virtualization = NP_NV_ENABLED;
	in.tenancy = NP_TENANCY_HOST;
	in.host_id = "h-0123456789abcdef0";
	in.state = NP_RUN_RUNNING;
	in.platform = NP_PLATFORM_WINDOWS;
	in.hibernation = NP_BOOL_FALSE;
	in.user_data_sha256 = "ab";
	np_tags_set(&in.tags, "team", "ci");
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	ck_assert_int_eq(np_state_serial(st), 1);
	ck_assert_int_eq(np_state_get(st, "runner[0]", &out, &found, &err), 0);
	ck_assert(found);
	ck_assert_str_eq(out.instance_type, "m8i.2xlarge");
	ck_assert_int_eq(out.core_count, 4);
	ck_assert_int_eq(out.nested_virtualization, NP_NV_ENABLED);
	ck_assert_int_eq(out.tenancy, NP_TENANCY_HOST);
	ck_assert_str_eq(out.host_id, "h-0123456789abcdef0");
	ck_assert_int_eq(out.platform, NP_PLATFORM_WINDOWS);
	ck_assert_int_eq(out.hibernation, NP_BOOL_FALSE);
	ck_assert_str_eq(np_tags_get(&out.tags, "team"), "ci");
	np_instance_release(&out);
	in.address = "runner[10]";
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	in.address = "a";
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	ck_assert_int_eq(np_state_list(st, &all, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(all[0].address, "a");
	np_instances_free(all, n);
	ck_assert_int_eq(np_state_serial(st), 3);
	np_tags_release(&in.tags);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_transaction_bumps_serial_once_and_rolls_back)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_instance in = { .address = "x", .instance_id = "i-0123456789abcdef0" };
	struct np_instance *all = NULL;
	size_t n;

	ck_assert_int_eq(np_state_begin(st, &err), 0);
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	in.address = "y";
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	ck_assert_int_eq(np_state_commit(st, &err), 0);
	ck_assert_int_eq(np_state_serial(st), 1);
	ck_assert_int_eq(np_state_begin(st, &err), 0);
	ck_assert_int_eq(np_state_remove(st, "x", &err), 0);
	np_state_rollback(st, &err);
	ck_assert_int_eq(np_state_serial(st), 1);
	ck_assert_int_eq(np_state_list(st, &all, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	np_instances_free(all, n);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_rm_and_mv_errors)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_instance in = { .address = "a", .instance_id = "i-0123456789abcdef0" };

	ck_assert_int_eq(np_state_remove(st, "nope", &err), -1);
	ck_assert(strstr(err.msg, "no instance 'nope'"));
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	in.address = "b";
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	ck_assert_int_eq(np_state_move(st, "a", "b", &err), -1);
	ck_assert(strstr(err.msg, "already in the state"));
	ck_assert_int_eq(np_state_move(st, "a", "c", &err), 0);
	ck_assert_int_eq(np_state_move(st, "a", "d", &err), -1);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_host_rows_round_trip_sorted_and_removed)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_host h = { .host_id = "h-0123456789abcdef0",
			     .instance_family = "m8i",
			     .availability_zone = "us-east-1a",
			     .auto_placement = NP_BOOL_FALSE,
			     .host_recovery = NP_BOOL_TRUE,
			     .state = NP_HOST_AVAILABLE,
			     .lineage = "7c1e" };
	struct np_host *all = NULL;
	size_t n = 0;

	np_tags_set(&h.tags, "team", "ci");
	h.tags_set = true;
	h.address = "kvm-hosts[1]";
	ck_assert_msg(np_state_host_put(st, &h, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(np_state_serial(st), 1);
	h.address = "kvm-hosts[0]";
	h.host_id = "h-0123456789abcdef1";
	ck_assert_int_eq(np_state_host_put(st, &h, &err), 0);
	/* put again: the row is replaced, not added */
	h.auto_placement = NP_BOOL_TRUE;
	ck_assert_int_eq(np_state_host_put(st, &h, &err), 0);
	ck_assert_int_eq(np_state_host_list(st, &all, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(all[0].address, "kvm-hosts[0]");
	ck_assert_str_eq(all[0].host_id, "h-0123456789abcdef1");
	ck_assert_int_eq(all[0].auto_placement, NP_BOOL_TRUE);
	ck_assert_str_eq(all[1].address, "kvm-hosts[1]");
	ck_assert_str_eq(all[1].instance_family, "m8i");
	ck_assert_str_eq(all[1].availability_zone, "us-east-1a");
	ck_assert_int_eq(all[1].host_recovery, NP_BOOL_TRUE);
	ck_assert_str_eq(np_tags_get(&all[1].tags, "team"), "ci");
	np_hosts_free(all, n);
	/* hosts are not instances: the instance list does not show them */
	{
		struct np_instance *ins = NULL;

		ck_assert_int_eq(np_state_list(st, &ins, &n, &err), 0);
		ck_assert_uint_eq(n, 0);
		np_instances_free(ins, n);
	}
	ck_assert_int_eq(np_state_host_remove(st, "kvm-hosts[1]", &err), 0);
	ck_assert_int_eq(np_state_host_remove(st, "kvm-hosts[1]", &err), -1);
	ck_assert_msg(strstr(err.msg, "no host 'kvm-hosts[1]'"), "got: %s", err.msg);
	ck_assert_int_eq(np_state_host_list(st, &all, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	np_hosts_free(all, n);
	h.address = NULL;
	ck_assert_int_eq(np_state_host_put(st, &h, &err), -1);
	np_tags_release(&h.tags);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_an_address_is_a_hosts_or_an_instances_never_both)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_host h = { .address = "kvm", .host_id = "h-0123456789abcdef0" };
	struct np_instance in = { .address = "runner", .instance_id = "i-0123456789abcdef0" };
	long long serial;

	ck_assert_int_eq(np_state_host_put(st, &h, &err), 0);
	ck_assert_int_eq(np_state_put(st, &in, &err), 0);
	serial = np_state_serial(st);
	h.address = "runner";
	ck_assert_int_eq(np_state_host_put(st, &h, &err), -1);
	ck_assert_msg(strstr(err.msg, "'runner' is already an instance's address"), "got: %s",
		      err.msg);
	in.address = "kvm";
	ck_assert_int_eq(np_state_put(st, &in, &err), -1);
	ck_assert_msg(strstr(err.msg, "'kvm' is already a host's address"), "got: %s", err.msg);
	/* moving an instance onto a host's address is refused the same way */
	ck_assert_int_eq(np_state_move(st, "runner", "kvm", &err), -1);
	ck_assert_int_eq(np_state_serial(st), serial);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_a_damaged_host_row_is_refused)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_host h = { .address = "kvm", .host_id = "h-0123456789abcdef0" };
	struct np_host *all = NULL;
	size_t n = 7;
	sqlite3 *db;

	ck_assert_int_eq(np_state_host_put(st, &h, &err), 0);
	np_state_close(st);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE hosts SET data = '{\"address\": \"kvm\", ' WHERE address = 'kvm'",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	st = open_ok();
	ck_assert_int_eq(np_state_host_list(st, &all, &n, &err), -1);
	ck_assert_msg(strstr(err.msg, "a row of 'kvm' is not JSON"), "got: %s", err.msg);
	ck_assert_ptr_null(all);
	ck_assert_uint_eq(n, 0);
	np_state_close(st);
	/* JSON, but not a host: refused as np_host_from_json refuses it */
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE hosts SET data = '[1, 2]' WHERE address = 'kvm'", NULL, NULL,
		     NULL);
	sqlite3_close(db);
	st = open_ok();
	np_err_clear(&err);
	ck_assert_int_eq(np_state_host_list(st, &all, &n, &err), -1);
	ck_assert_msg(strstr(err.msg, "state '"), "got: %s", err.msg);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_generations_increase)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	int g1, g2, g3;

	ck_assert_int_eq(np_state_next_generation(st, "w", &g1, &err), 0);
	ck_assert_int_eq(np_state_next_generation(st, "w", &g2, &err), 0);
	ck_assert_int_eq(np_state_next_generation(st, "v", &g3, &err), 0);
	ck_assert_int_eq(g1, 1);
	ck_assert_int_eq(g2, 2);
	ck_assert_int_eq(g3, 1);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_catalog_cache_honours_ttl)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_catalog in = NP_CATALOG_INIT, out = NP_CATALOG_INIT;
	int cores[] = { 1, 2 };
	struct np_itype t = { .name = "m8i.large",
			      .default_vcpus = 2,
			      .valid_cores = cores,
			      .n_valid_cores = 2,
			      .nested_virtualization = true };

	np_catalog_add(&in, &t);
	ck_assert_int_eq(np_state_catalog_store(st, &in, 1000, &err), 0);
	ck_assert_int_eq(np_state_catalog_load(st, &out, 1500, 3600, &err), 0);
	ck_assert_uint_eq(out.n, 1);
	ck_assert(np_catalog_find(&out, "m8i.large")->nested_virtualization);
	ck_assert_int_eq(np_catalog_find(&out, "m8i.large")->valid_cores[1], 2);
	np_catalog_release(&out);
	ck_assert_int_eq(np_state_catalog_load(st, &out, 1000 + 3601, 3600, &err), 0);
	ck_assert_uint_eq(out.n, 0);
	np_catalog_release(&out);
	np_catalog_release(&in);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_journal_pending_until_ended)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_journal_entry e = {
		.run_id = "r1", .address = "w", .step = "run_instances", .client_token = "np-tok"
	};
	struct np_journal_entry *p = NULL;
	long long id1, id2;
	size_t n;

	ck_assert_int_eq(np_state_journal_begin(st, &e, &id1, &err), 0);
	e.step = "stop";
	ck_assert_int_eq(np_state_journal_begin(st, &e, &id2, &err), 0);
	ck_assert_int_eq(np_state_journal_end(st, id2, "done", "i-0123456789abcdef0", NULL, &err),
			 0);
	ck_assert_int_eq(np_state_journal_pending(st, &p, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(p[0].step, "run_instances");
	ck_assert_str_eq(p[0].client_token, "np-tok");
	np_journal_entries_free(p, n);
	ck_assert_int_eq(np_state_serial(st), 0); /* the journal is not a resource change */
	{
		bool has = true;

		/* A step that went out (done) or may have (started) counts; others not. */
		ck_assert_int_eq(np_state_journal_has(st, "r1", "w", "stop", &has, &err), 0);
		ck_assert(has);
		ck_assert_int_eq(np_state_journal_has(st, "r1", "w", "start", &has, &err), 0);
		ck_assert(!has);
		ck_assert_int_eq(np_state_journal_has(st, "r2", "w", "stop", &has, &err), 0);
		ck_assert(!has);
	}
	np_state_close(st);
}
END_TEST

START_TEST(test_state_history_and_backup)
{
	struct np_state *st = open_ok(), *bk = NULL;
	struct np_err err = NP_ERR_INIT;
	struct np_history_entry *h = NULL;
	char bpath[160];
	struct stat sb;
	size_t n;
	struct np_history_entry rec = { .run_id = "r1",
					.command = "apply",
					.added = 2,
					.changed = 1,
					.outcome = "ok",
					.changes =
					    "[{\"address\": \"w\", \"action\": \"create\"}]" };

	ck_assert_int_eq(np_state_history_record(st, &rec, &err), 0);
	ck_assert_int_eq(np_state_history_list(st, &h, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(h[0].added, 2);
	ck_assert_str_eq(h[0].outcome, "ok");
	ck_assert_str_eq(h[0].changes, rec.changes);
	ck_assert_str_eq(h[0].user, getpwuid(getuid())->pw_name);
	np_history_entries_free(h, n);
	snprintf(bpath, sizeof(bpath), "%s.backup", path);
	ck_assert_int_eq(np_state_backup(st, bpath, &err), 0);
	ck_assert_int_eq(stat(bpath, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(np_state_open(&bk, bpath, 0, &err), 0);
	ck_assert_str_eq(np_state_lineage(bk), np_state_lineage(st));
	np_state_close(bk);
	np_state_close(st);
}
END_TEST

START_TEST(test_state_lock_blocks_second_holder_and_names_it)
{
	struct np_state *a = open_ok(), *b = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_lock_info h = { 0 };

	ck_assert_int_eq(np_state_lock(a, "apply", 0, &h, &err), 0);
	ck_assert_int_eq(np_state_lock(b, "plan", 0.2, &h, &err), -1);
	ck_assert_int_eq(err.cls, NP_ERRC_LOCKED);
	ck_assert(strstr(err.msg, "'apply'"));
	ck_assert(strstr(err.msg, "force-unlock"));
	ck_assert_int_eq(np_state_unlock(a, &err), 0);
	ck_assert_int_eq(np_state_lock(b, "plan", 0, &h, &err), 0);
	np_state_close(a);
	np_state_close(b);
}
END_TEST

START_TEST(test_state_lock_of_dead_process_is_taken_over)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_lock_info h = { 0 };
	pid_t child = fork();

	if (child == 0) {
		struct np_state *c = NULL;

		np_state_open(&c, path, 0, NULL);
		np_state_lock(c, "apply", 0, &h, NULL);
		_exit(0); /* dies holding the lock */
	}
	waitpid(child, NULL, 0);
	ck_assert_int_eq(np_state_lock(st, "apply", 0, &h, &err), 0);
	ck_assert_ptr_nonnull(h.id);
	ck_assert_int_eq(h.pid, child);
	np_lock_info_release(&h);
	np_state_close(st);
}
END_TEST

/* A live holder's lock is the kernel's: force-unlock cannot break it. A row
 * whose process died is cleared, with the right id only. */
START_TEST(test_state_force_unlock_needs_the_right_id)
{
	struct np_state *a = open_ok(), *b = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_lock_info h = { 0 };
	char lock_id[37];
	pid_t child;

	ck_assert_int_eq(np_state_lock(a, "apply", 0, &h, &err), 0);
	ck_assert_int_eq(np_state_lock(b, "plan", 0, &h, &err), -1);
	snprintf(lock_id, sizeof(lock_id), "%.36s", strstr(err.msg, "lock id ") + 8);
	ck_assert_int_eq(np_state_force_unlock(b, lock_id, &err), -1);
	ck_assert_msg(strstr(err.msg, "live process"), "%s", err.msg);
	np_state_close(a);

	child = fork();
	if (child == 0) {
		struct np_state *c = open_ok();
		struct np_lock_info ch = { 0 };

		_exit(np_state_lock(c, "apply", 0, &ch, &err) == 0 ? 0 : 1); /* dies holding it */
	}
	waitpid(child, NULL, 0);
	ck_assert_int_eq(np_state_lock(b, "plan", 0, &h, &err),
			 0); /* taken over: the holder died */
	ck_assert_ptr_nonnull(h.id);
	np_lock_info_release(&h);
	np_state_unlock(b, &err);
	np_state_close(b);
}
END_TEST

/* The stale row of a dead process: force-unlock clears it with its id. */
START_TEST(test_state_force_unlock_clears_a_dead_holders_row)
{
	struct np_state *b = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_lock_info h = { 0 };
	pid_t child = fork();

	if (child == 0) {
		struct np_state *c = open_ok();

		_exit(np_state_lock(c, "apply", 0, &h, &err) == 0 ? 0 : 1);
	}
	waitpid(child, NULL, 0);
	ck_assert_int_eq(np_state_force_unlock(b, "wrong-id", &err), -1);
	{
		sqlite3 *db;
		sqlite3_stmt *s;
		char id[64] = "";

		ck_assert_int_eq(sqlite3_open(np_state_path(b), &db), SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT id FROM lock", -1, &s, NULL),
				 SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
		snprintf(id, sizeof(id), "%s", (const char *)sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		sqlite3_close(db);
		ck_assert_int_eq(np_state_force_unlock(b, id, &err), 0);
	}
	ck_assert_int_eq(np_state_lock(b, "plan", 0, &h, &err), 0);
	ck_assert_ptr_null(h.id); /* nothing left to take over */
	np_state_close(b);
}
END_TEST

static void refused_untouched(const void *data, size_t n, const char *want)
{
	struct np_state *st = NULL;
	struct np_err err = NP_ERR_INIT;
	char before[65], after[65], side[160];

	write_file(path, data, n);
	file_hash(path, before);
	ck_assert_int_eq(np_state_open(&st, path, NP_STATE_CREATE, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "%s", err.msg);
	file_hash(path, after);
	ck_assert_str_eq(before, after);
	snprintf(side, sizeof(side), "%s-wal", path);
	ck_assert_int_eq(access(side, F_OK), -1);
}

START_TEST(test_state_refuses_non_sqlite_file_untouched)
{
	refused_untouched("this is my shopping list\n", 25, "not a nestplan state");
}
END_TEST

START_TEST(test_state_refuses_foreign_sqlite_untouched)
{
	sqlite3 *db;
	char *data;
	size_t n;

	sqlite3_open(path, &db);
	sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL);
	sqlite3_close(db);
	data = read_all(path, &n);
	refused_untouched(data, n, "not a nestplan state");
	free(data);
}
END_TEST

START_TEST(test_state_refuses_newer_schema_and_damage_untouched)
{
	struct np_state *st = open_ok();
	struct np_err err = NP_ERR_INIT;
	struct np_instance in = { .address = "a", .instance_id = "i-0123456789abcdef0" };
	sqlite3 *db;
	char *data;
	size_t n;

	for (int i = 0; i < 50; i++) {
		char addr[16];

		snprintf(addr, sizeof(addr), "a%d", i);
		in.address = addr;
		np_state_put(st, &in, &err);
	}
	np_state_close(st);
	sqlite3_open(path, &db);
	sqlite3_exec(db,
		     "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; "
		     "PRAGMA user_version = 99",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	data = read_all(path, &n);
	refused_untouched(data, n, "newer nestplan");
	/* flip bytes in a page of the b-tree */
	memset(data + 4096 + 100, 0x5a, 400);
	data[60] = 0;
	data[61] = data[62] = data[63] = 0; /* user_version back to 0... still damaged */
	refused_untouched(data, n, "'");
	/* a truncated file */
	refused_untouched(data, 1000, "'");
	free(data);
}
END_TEST

START_TEST(test_state_concurrent_creation_never_corrupts)
{
	pid_t kids[4];
	struct np_state *st;
	char lineage[40];

	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			struct np_state *c = NULL;
			struct np_err e = NP_ERR_INIT;
			int rc = np_state_open(&c, path, NP_STATE_CREATE, &e);

			np_state_close(c);
			_exit(rc == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++) {
		int status;

		waitpid(kids[i], &status, 0);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	st = open_ok();
	snprintf(lineage, sizeof(lineage), "%s", np_state_lineage(st));
	ck_assert_uint_eq(strlen(lineage), 36);
	np_state_close(st);
}
END_TEST

Suite *check_state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_state_create_sets_lineage_serial_and_mode);
	tcase_add_test(tc, test_state_reopen_keeps_lineage);
	tcase_add_test(tc, test_state_missing_without_create_is_refused);
	tcase_add_test(tc, test_state_resource_round_trip_and_serial);
	tcase_add_test(tc, test_state_transaction_bumps_serial_once_and_rolls_back);
	tcase_add_test(tc, test_state_rm_and_mv_errors);
	tcase_add_test(tc, test_state_generations_increase);
	tcase_add_test(tc, test_state_catalog_cache_honours_ttl);
	tcase_add_test(tc, test_state_journal_pending_until_ended);
	tcase_add_test(tc, test_state_history_and_backup);
	tcase_add_test(tc, test_state_lock_blocks_second_holder_and_names_it);
	tcase_add_test(tc, test_state_lock_of_dead_process_is_taken_over);
	tcase_add_test(tc, test_state_force_unlock_needs_the_right_id);
	tcase_add_test(tc, test_state_force_unlock_clears_a_dead_holders_row);
	tcase_add_test(tc, test_state_refuses_non_sqlite_file_untouched);
	tcase_add_test(tc, test_state_refuses_foreign_sqlite_untouched);
	tcase_add_test(tc, test_state_refuses_newer_schema_and_damage_untouched);
	tcase_add_test(tc, test_state_concurrent_creation_never_corrupts);
	tcase_add_test(tc, test_state_host_rows_round_trip_sorted_and_removed);
	tcase_add_test(tc, test_state_an_address_is_a_hosts_or_an_instances_never_both);
	tcase_add_test(tc, test_state_a_damaged_host_row_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
