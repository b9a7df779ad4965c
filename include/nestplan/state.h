/* The state: an SQLite file (WAL, mode 0600) with the lineage, a serial, one
 * row per managed instance, the catalog cache, the apply journal, history
 * and the lock. Damaged, foreign or newer files are refused untouched. */
#ifndef NESTPLAN_STATE_H
#define NESTPLAN_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "nestplan/buf.h"
#include "nestplan/error.h"
#include "nestplan/host.h"
#include "nestplan/model.h"

#define NP_STATE_CREATE   0x1u /* create the file when missing */
#define NP_STATE_READONLY 0x2u
/* With READONLY: create nothing, not even SQLite's -wal and -shm files when
 * no run has them open (validate reads only the catalog cache). */
#define NP_STATE_PEEK 0x4u

struct np_state;

int np_state_open(struct np_state **out, const char *path, unsigned flags, struct np_err *err);
/* The same, named in every message as name (s3://BUCKET/KEY for the local
 * copy of a remote state) instead of its path. */
int np_state_open_as(struct np_state **out, const char *path, const char *name, unsigned flags,
		     struct np_err *err);
void np_state_close(struct np_state *st);
const char *np_state_lineage(const struct np_state *st);
long long np_state_serial(const struct np_state *st);
const char *np_state_path(const struct np_state *st);
const char *np_state_name(const struct np_state *st); /* for messages */
/* True when the state was opened read-only: asked for, or because neither
 * it nor its directory can be written here (a read-only mount); reading
 * works, every write fails with an error saying so. */
bool np_state_readonly(const struct np_state *st);

/* Where the state's instances live (NULL until pinned): the region of the
 * first apply, and the account EC2's answers gave (reservations' ownerId). */
const char *np_state_region(const struct np_state *st);
const char *np_state_account(const struct np_state *st);
/* Record region and/or account (NULL: left as it is) where none is yet. */
int np_state_pin(struct np_state *st, const char *region, const char *account, struct np_err *err);

/* An explicit transaction; without one, each write is its own. The serial
 * goes up by one per committed transaction that changed resources. */
int np_state_begin(struct np_state *st, struct np_err *err);
int np_state_commit(struct np_state *st, struct np_err *err);
void np_state_rollback(struct np_state *st, struct np_err *err);

/* Resources, sorted by address. */
int np_state_list(struct np_state *st, struct np_instance **out, size_t *n, struct np_err *err);
int np_state_get(struct np_state *st, const char *address, struct np_instance *out, bool *found,
		 struct np_err *err);
int np_state_put(struct np_state *st, const struct np_instance *in, struct np_err *err);
int np_state_remove(struct np_state *st, const char *address, struct np_err *err);
int np_state_move(struct np_state *st, const char *from, const char *to, struct np_err *err);
/* Dedicated Hosts: their own table, sorted by address; an address is a
 * host's or an instance's, never both (np_state_host_put refuses it). */
int np_state_host_list(struct np_state *st, struct np_host **out, size_t *n, struct np_err *err);
int np_state_host_put(struct np_state *st, const struct np_host *h, struct np_err *err);
int np_state_host_remove(struct np_state *st, const char *address, struct np_err *err);
/* The launch generation of address, raised by one (for ClientTokens). */
int np_state_next_generation(struct np_state *st, const char *address, int *gen,
			     struct np_err *err);

/* The instance-type catalog cache; time is a parameter. */
int np_state_catalog_load(struct np_state *st, struct np_catalog *out, long long now,
			  long long ttl_seconds, struct np_err *err);
int np_state_catalog_store(struct np_state *st, const struct np_catalog *cat, long long now,
			   struct np_err *err);

struct np_journal_entry {
	long long id;
	char *run_id;
	char *address;
	char *step;
	char *instance_id;
	char *client_token;
	char *status;
	char *detail;
	long long started_at, ended_at;
};

/* Each begin/end is durable before it returns. */
int np_state_journal_begin(struct np_state *st, const struct np_journal_entry *e, long long *id,
			   struct np_err *err);
int np_state_journal_end(struct np_state *st, long long id, const char *status,
			 const char *instance_id, const char *detail, struct np_err *err);
/* Entries started and never ended: what a killed apply left in flight. */
int np_state_journal_pending(struct np_state *st, struct np_journal_entry **out, size_t *n,
			     struct np_err *err);
void np_journal_entries_free(struct np_journal_entry *v, size_t n);
/* Whether run run_id journaled step for address as sent or in flight (a call
 * that may have reached EC2). */
int np_state_journal_has(struct np_state *st, const char *run_id, const char *address,
			 const char *step, bool *out, struct np_err *err);

struct np_history_entry {
	long long id;
	char *run_id, *command, *user, *host, *outcome;
	long long at, serial;
	int added, changed, destroyed, failed;
	char *changes; /* JSON array: {address, action, instance_id, outcome} */
};

/* Record a run: run_id, command, the counts, outcome and changes of e; who,
 * where, when and the serial are filled in here. */
int np_state_history_record(struct np_state *st, const struct np_history_entry *e,
			    struct np_err *err);
int np_state_history_list(struct np_state *st, struct np_history_entry **out, size_t *n,
			  struct np_err *err);
void np_history_entries_free(struct np_history_entry *v, size_t n);

/* The committed state as the bytes of one database file, read through a
 * second connection so that a transaction still open on this one is never
 * included. *changed is false (and out empty) when nothing was committed
 * since the previous snapshot; the first one always has the bytes. For a
 * remote backend, which uploads them. */
int np_state_snapshot(struct np_state *st, struct np_buf *out, bool *changed, struct np_err *err);

/* A consistent copy of the whole state (sqlite3 backup API), mode 0600. */
int np_state_backup(struct np_state *st, const char *dest, struct np_err *err);

struct np_lock_info {
	char *id, *user, *host, *command;
	long pid;
	long long since;
};

/* Take the lock, waiting up to timeout seconds. A holder that died on this
 * host is taken over: then holder describes it so the caller can warn. */
int np_state_lock(struct np_state *st, const char *command, double timeout,
		  struct np_lock_info *holder, struct np_err *err);
int np_state_unlock(struct np_state *st, struct np_err *err);
int np_state_force_unlock(struct np_state *st, const char *lock_id, struct np_err *err);
void np_lock_info_release(struct np_lock_info *li);

#endif
