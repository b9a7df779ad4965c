/* apply's moving parts, shared by its files only. */
#ifndef NESTPLAN_APPLY_INTERNAL_H
#define NESTPLAN_APPLY_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <jansson.h>

#include "apply/progress.h"
#include "nestplan/apply.h"

enum task_status {
	TASK_READY = 0, /* its next step can be taken by a worker */
	TASK_PARKED,    /* waits for a rollout slot of its group */
	TASK_RUNNING,   /* a worker is making its call */
	TASK_WAITING,   /* the shared waiter polls it */
	TASK_DONE,
	TASK_FAILED,
	TASK_HALTED,  /* ended by an interrupt half-way; the next apply resumes it */
	TASK_UNKNOWN, /* a launch whose answer never came: its token stays journaled */
};

struct group {
	const char *name;
	int limit; /* instances out of service at once; 0: no limit */
	int in_use;
};

struct task {
	const struct np_change *change;
	const struct np_desired *desired; /* NULL when the file no longer has it */
	struct group *group;
	enum task_status status;
	size_t next;           /* index into change->steps */
	char *instance_id;     /* the instance the next steps act on */
	char *old_instance_id; /* replace: the instance to terminate */
	bool holds_slot;
	bool was_running; /* before this apply stopped it */
	bool recorded;    /* the final EC2 view is in the state */
	bool rolling_back;
	bool counted;
	bool recover;      /* interrupted after its stop: start it again */
	bool left_stopped; /* interrupted, and could not be started again */
	bool restarting;   /* interrupted: started again, waiting for it to run */
	bool resume_only;  /* no step: waits for what a killed apply left */
	/* The wait the waiter does for this task. */
	enum np_step_kind wait_step;
	enum np_run_state wait_for; /* UNSET: just re-read the instance */
	double wait_started, wait_deadline, last_note;
	double step_started;
	double ready_since; /* waiting for a shared stop/start/terminate */
	long long journal_id;
	long long cycle_journal_id; /* open from the stop until the task ends */
	struct np_instance live;    /* last seen from EC2 */
	char *error;
	const char *resume_token; /* ClientToken of a launch left in flight */
};

/* A host change (hosts.c): its calls run before the instance tasks
 * (allocate, modify, tags) or after them all (release). */
struct host_task {
	const struct np_change *change;
	enum task_status status; /* READY: not over yet */
	char *host_id;           /* the host it modifies: the plan's, or the one allocated */
	char *release_id;        /* the host it releases (the plan's) */
	char *error;
	const char *resume_token; /* ClientToken of an allocation a killed apply left */
	bool allocated;           /* allocated (or adopted) and recorded by this run */
	double started;           /* its current call's start, for the progress lines */
};

struct apply {
	struct np_apply_ec2 ec2; /* opts->ec2, or the real client's */
	struct np_clock clock;   /* opts->clock, or the real one */
	struct np_state *st;
	const struct np_config *cfg;
	const struct np_plan *plan;
	const struct np_apply_opts *opts;
	struct np_progress progress;
	struct task *tasks;
	size_t n_tasks;
	struct group *groups;
	size_t n_groups;
	struct host_task *hosts;
	size_t n_hosts;
	pthread_mutex_t lock;       /* tasks, groups, counters */
	pthread_cond_t cond;        /* a task changed status */
	pthread_mutex_t state_lock; /* one SQLite transaction at a time; recursive,
	                                    * so np_apply_batch_begin can group writes */
	int in_flight;              /* calls being made */
	int batch_depth;            /* np_apply_batch_begin nesting (state_lock) */
	bool batch_open;            /* the batch's transaction is open */
	bool stopping;              /* interrupted: start nothing new */
	double started;
	double stopping_since;
	int n_exited; /* threads that have finished */
};

/* a's clock: now, and a wait on a->cond (a->lock held). */
double np_apply_now(const struct apply *a);
void np_apply_wait(struct apply *a, double seconds);

/* The waiter's decision for one instance, from what DescribeInstances
 * answered (listed false: not in the answer) and the wait's deadline. */
enum np_settle {
	NP_SETTLE_WAIT = 0,  /* poll again */
	NP_SETTLE_DONE,      /* reached (or, for a re-read, settled) */
	NP_SETTLE_FAILED,    /* a state from which want can no longer come */
	NP_SETTLE_TIMED_OUT, /* the deadline passed first */
};
/* want NP_RUN_UNSET: a re-read, done once the instance is in no transition
 * (or at the deadline, whatever it shows). Pure (src/apply/waiter.c). */
enum np_settle np_apply_settle(enum np_run_state want, bool listed, enum np_run_state got,
			       double now, double deadline);

/* Worker side (steps.c): make the call for the next step of every task in
 * batch (all with the same step kind; batching only for stop/start/terminate).
 * Sets each task's status: READY (next step), WAITING, DONE or FAILED. Called
 * without a->lock held. */
void np_apply_exec(struct apply *a, struct task **batch, size_t n);
/* Whether a kind may share one call between instances. */
bool np_apply_batchable(enum np_step_kind kind);

/* Waiter side (waiter.c): one poll of every waiting task. Returns how many
 * tasks it moved on. Called without a->lock held. */
int np_apply_poll(struct apply *a);

/* The same for a task, from any thread. */
int np_apply_record(struct apply *a, struct task *t, const struct np_instance *live,
		    struct np_err *err);
/* Group the state writes until np_apply_batch_end into one durable
 * transaction (a batch of 100 launches: one commit, not 300). Takes
 * state_lock: call it before taking a->lock, never with it held. */
void np_apply_batch_begin(struct apply *a);
void np_apply_batch_end(struct apply *a);
/* Close the task's cycle entry (task finished, done or failed; or status:
 * "not sent" when the stop never went out). */
void np_apply_cycle_end(struct apply *a, struct task *t, const char *status);
/* Whether the task's instance was stopped by this apply and not started again. */
bool np_apply_stopped_by_us(const struct task *t);
/* Interrupted: move the tasks on that can be (caller holds a->lock). */
void np_apply_sweep_interrupted(struct apply *a);
/* Seconds an interrupted apply waits for a stop to finish so it can start the
 * instance again; then it is reported as left stopped. */
#define NP_APPLY_INTERRUPT_GRACE 60.0
/* A task failed: roll back what can be, report it (steps.c). Caller holds no lock. */
void np_apply_fail(struct apply *a, struct task *t, enum np_step_kind kind, const char *msg);

/* Dedicated Hosts (hosts.c), called by np_apply_run without any lock held:
 * the host changes of the plan; their allocations, modifications and tag
 * changes (before the threads start); their releases (after the threads
 * end), each only when every instance task on the host succeeded. */
void np_apply_hosts_init(struct apply *a);
void np_apply_hosts_before(struct apply *a);
void np_apply_hosts_after(struct apply *a);
void np_apply_hosts_release(struct apply *a);
/* The HostId the state has for a host's address (out: owned), for a launch
 * or a placement onto it; -1 naming the host when it has none. */
int np_apply_host_id(struct apply *a, const char *address, char **out, struct np_err *err);
/* Why a host of the plan has no id: NULL when nothing of this run failed. */
const char *np_apply_hosts_failure(const struct apply *a, const char *address);
/* Whether a pending entry of a host call may be closed: -1 when e is not a
 * host call's. */
int np_apply_hosts_settled(const struct apply *a, const struct np_journal_entry *e);
/* A finished status's name in the history ("ok", "failed", "unknown",
 * "interrupted"); NULL for a task not over. */
const char *np_apply_outcome(enum task_status s);
/* The host changes' outcomes into res and the history's changes array. */
void np_apply_hosts_tally(struct apply *a, struct np_apply_result *res, json_t *changes);

#endif
