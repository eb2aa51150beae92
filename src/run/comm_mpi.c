/*
 * comm_mpi.c - the only <mpi.h> user: init/finalize, collectives the runner
 * needs, and the work-queue server on rank 0 (see comm.h).  MPI errors are
 * returned (MPI_ERRORS_RETURN) as RC_EMPI with the call and MPI's message.
 */
#include "comm.h"
#include "err.h"
#include "util.h"

#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_REQ = 11, TAG_REP = 12 };

struct comm {
    int rank, size, thread_level;
    MPI_Comm world, wq_comm;
    /* work queue (rank 0) */
    struct sched *sched;
    pthread_mutex_t mu;       /* the queue's state */
    pthread_mutex_t mpi_mu;   /* serialises MPI calls on rank 0 while the server thread runs */
    pthread_t server;
    int server_running;
    volatile int local_finished;
    size_t done;
    int stopped;
    void (*tick)(void *);
    void *tick_arg;
};

static int mpi_fail(int code, const char *call)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(code, msg, &len);
    return err_set(RC_EMPI, "MPI call %s failed: %s", call, msg);
}
#define MPI_CHECK(call) do { int e_ = (call); if (e_ != MPI_SUCCESS) return mpi_fail(e_, #call); } while (0)

int comm_init(int *argc, char ***argv, struct comm **out)
{
    *out = NULL;
    struct comm *c = calloc(1, sizeof *c);
    if (!c) return err_set(RC_ENOMEM, "out of memory");
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &c->thread_level) != MPI_SUCCESS) {
        free(c);
        return err_set(RC_EMPI, "MPI_Init_thread failed");
    }
    c->world = MPI_COMM_WORLD;
    MPI_Comm_set_errhandler(c->world, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->world, &c->rank);
    MPI_Comm_size(c->world, &c->size);
    MPI_Comm_dup(c->world, &c->wq_comm);
    MPI_Comm_set_errhandler(c->wq_comm, MPI_ERRORS_RETURN);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->mpi_mu, NULL);
    *out = c;
    return RC_OK;
}

void comm_finalize(struct comm *c)
{
    if (!c) return;
    MPI_Comm_free(&c->wq_comm);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->mpi_mu);
    free(c);
    MPI_Finalize();
}

void comm_abort(struct comm *c, int code)
{
    MPI_Abort(c ? c->world : MPI_COMM_WORLD, code);
    exit(code);
}

int comm_rank(const struct comm *c) { return c->rank; }
int comm_size(const struct comm *c) { return c->size; }
void *comm_mpi_comm(struct comm *c) { return &c->world; }
static MPI_Info info_null = MPI_INFO_NULL;
void *comm_mpi_info_null(void) { return &info_null; }

int comm_bcast_bytes(struct comm *c, char **buf, size_t *len, int root)
{
    unsigned long long n = c->rank == root ? (unsigned long long)*len : 0;
    MPI_CHECK(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, c->world));
    if (c->rank != root) {
        *buf = malloc(n + 1);
        if (!*buf) return err_set(RC_ENOMEM, "out of memory");   /* TODO: agree before the bcast */
        (*buf)[n] = 0;
        *len = (size_t)n;
    }
    for (size_t off = 0; off < n;) {     /* counts are int: send in pieces */
        int piece = n - off > (1u << 30) ? (1 << 30) : (int)(n - off);
        MPI_CHECK(MPI_Bcast(*buf + off, piece, MPI_BYTE, root, c->world));
        off += (size_t)piece;
    }
    return RC_OK;
}

int comm_agree(struct comm *c, int rc)
{
    int worst = rc, who, cand;
    if (MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, c->world) != MPI_SUCCESS)
        return err_set(RC_EMPI, "MPI_Allreduce failed while agreeing on errors");
    if (worst == RC_OK) return RC_OK;
    cand = rc == worst ? c->rank : c->size;
    MPI_Allreduce(&cand, &who, 1, MPI_INT, MPI_MIN, c->world);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", c->rank == who ? err_msg() : "");
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, c->world);
    if (who != c->rank) err_set(worst, "%s", msg);
    return worst;
}

int comm_allreduce_sum_i64(struct comm *c, int64_t *v, size_t n)
{
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_INT64_T, MPI_SUM, c->world));
    return RC_OK;
}

int comm_allreduce_max_f32(struct comm *c, float *v, size_t n)
{
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_MAX, c->world));
    return RC_OK;
}

int comm_allreduce_max_i32(struct comm *c, int32_t *v, size_t n)
{
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_INT32_T, MPI_MAX, c->world));
    return RC_OK;
}

int comm_barrier(struct comm *c)
{
    MPI_CHECK(MPI_Barrier(c->world));
    return RC_OK;
}

int comm_hosts(struct comm *c, char **out)
{
    char name[MPI_MAX_PROCESSOR_NAME] = { 0 };
    int len = 0;
    MPI_Get_processor_name(name, &len);
    return comm_gather_unique(c, name, out);
}

int comm_gather_unique(struct comm *c, const char *mine, char **out)
{
    char name[MPI_MAX_PROCESSOR_NAME] = { 0 };
    snprintf(name, sizeof name, "%s", mine);
    char *all = calloc((size_t)c->size, MPI_MAX_PROCESSOR_NAME);
    if (!all) return err_set(RC_ENOMEM, "out of memory");
    int e = MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, c->world);
    if (e != MPI_SUCCESS) { free(all); return mpi_fail(e, "MPI_Allgather(strings)"); }
    struct buf b = { 0 };
    for (int r = 0; r < c->size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        int seen = 0;
        for (int q = 0; q < r; q++) seen |= !strcmp(h, all + (size_t)q * MPI_MAX_PROCESSOR_NAME);
        if (!seen) { if (b.n) buf_add(&b, ",", 1); buf_add(&b, h, strlen(h)); }
    }
    free(all);
    *out = b.p ? b.p : util_strdup("");
    return RC_OK;
}

/* === work queue ========================================================= */

static int take_work(struct comm *c, int rank, int n_done, double ms, int flags, int *model, uint32_t *idx, int max)
{
    max = sched_cost_cap(max, ms, WQ_CHUNK_SECONDS);
    pthread_mutex_lock(&c->mu);
    c->done += (size_t)n_done;
    if (flags) c->stopped = 1;
    int n = c->stopped ? 0 : sched_next(c->sched, rank, model, idx, max);
    if (n == 0) *model = -1;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Answers requests until every other rank has been told to stop (and, when
 * rank 0 works too, until its own worker has finished). */
static void *serve(void *arg)
{
    struct comm *c = arg;
    int remaining = c->size - 1;
    uint32_t *rep = malloc((SCHED_MAX_CHUNK * 64 + 2) * sizeof *rep);
    double next_tick = util_now();
    int pending = 0;
    int64_t req[4];   /* {mean microseconds per item, n_done, flags, max} */
    MPI_Request r = MPI_REQUEST_NULL;
    while (rep && (remaining > 0 || (c->server_running && !c->local_finished))) {
        if (util_now() >= next_tick) {
            if (c->tick) c->tick(c->tick_arg);
            next_tick = util_now() + 0.25;
        }
        if (remaining == 0) {
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        int flag = 0, e = MPI_SUCCESS;
        MPI_Status st;
        pthread_mutex_lock(&c->mpi_mu);
        if (!pending) {
            e = MPI_Irecv(req, 4, MPI_INT64_T, MPI_ANY_SOURCE, TAG_REQ, c->wq_comm, &r);
            pending = e == MPI_SUCCESS;
        }
        if (e == MPI_SUCCESS) e = MPI_Test(&r, &flag, &st);
        pthread_mutex_unlock(&c->mpi_mu);
        if (e != MPI_SUCCESS) break;
        if (!flag) {
            struct timespec ts = { 0, 100 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        pending = 0;
        int max = (int)req[3];
        if (max > SCHED_MAX_CHUNK * 64) max = SCHED_MAX_CHUNK * 64;
        int model = -1;
        int n = take_work(c, st.MPI_SOURCE, (int)req[1], (double)req[0] / 1000.0, (int)req[2], &model, rep + 2, max);
        rep[0] = (uint32_t)model;
        rep[1] = (uint32_t)n;
        pthread_mutex_lock(&c->mpi_mu);
        e = MPI_Send(rep, n + 2, MPI_UINT32_T, st.MPI_SOURCE, TAG_REP, c->wq_comm);
        pthread_mutex_unlock(&c->mpi_mu);
        if (e != MPI_SUCCESS) break;
        if (n == 0) remaining--;
    }
    if (c->tick) c->tick(c->tick_arg);
    free(rep);
    return NULL;
}

int wq_start(struct comm *c, struct sched *s, void (*tick)(void *), void *arg)
{
    c->done = 0;
    c->stopped = 0;
    c->local_finished = 0;
    c->server_running = 0;
    if (c->rank != 0) return RC_OK;
    c->sched = s;
    c->tick = tick;
    c->tick_arg = arg;
    if (wq_rank0_works(c)) {
        c->server_running = 1;
        if (pthread_create(&c->server, NULL, serve, c) != 0) {
            c->server_running = 0;
            return err_set(RC_EMPI, "cannot start the work-queue thread");
        }
    }
    return RC_OK;
}

int wq_rank0_works(struct comm *c) { return c->size == 1 || c->thread_level >= MPI_THREAD_MULTIPLE; }

int wq_next(struct comm *c, int n_done, double ms_per_item, int flags, int *model, uint32_t *idx, int max)
{
    if (c->rank == 0) return take_work(c, 0, n_done, ms_per_item, flags, model, idx, max);
    int64_t req[4] = { (int64_t)(ms_per_item * 1000.0), n_done, flags, max };
    uint32_t *rep = malloc(((size_t)max + 2) * sizeof *rep);
    if (!rep) { *model = -1; return 0; }
    int n = 0;
    *model = -1;
    if (MPI_Send(req, 4, MPI_INT64_T, 0, TAG_REQ, c->wq_comm) == MPI_SUCCESS &&
        MPI_Recv(rep, max + 2, MPI_UINT32_T, 0, TAG_REP, c->wq_comm, MPI_STATUS_IGNORE) == MPI_SUCCESS) {
        n = (int)rep[1];
        *model = (int)rep[0];
        memcpy(idx, rep + 2, (size_t)n * sizeof *idx);
    }
    free(rep);
    return n;
}

size_t wq_done(struct comm *c)
{
    pthread_mutex_lock(&c->mu);
    size_t d = c->done;
    pthread_mutex_unlock(&c->mu);
    return d;
}

int wq_stopped(struct comm *c)
{
    pthread_mutex_lock(&c->mu);
    int s = c->stopped;
    pthread_mutex_unlock(&c->mu);
    return s;
}

int wq_finish(struct comm *c)
{
    if (c->rank == 0) {
        if (c->server_running) {
            c->local_finished = 1;
            pthread_join(c->server, NULL);
            c->server_running = 0;
        } else {
            serve(c);   /* rank 0 only serves (no MPI_THREAD_MULTIPLE) */
        }
    }
    return comm_barrier(c);
}

void comm_mpi_enter(struct comm *c) { if (c->server_running) pthread_mutex_lock(&c->mpi_mu); }
void comm_mpi_leave(struct comm *c) { if (c->server_running) pthread_mutex_unlock(&c->mpi_mu); }
