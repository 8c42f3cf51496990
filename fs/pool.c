/*
 * pool.c - one thread reads and serves the requests; slow ones go to a
 * pool of worker threads.
 *
 * Most requests take a few microseconds.  Serving them on the thread that
 * read them avoids the wake-up of another thread per request (libfuse's
 * multithreaded loop hands every request to whichever thread has waited
 * longest, which on a small machine doubles the cost of a metadata
 * operation).  Requests that can block for long - a copy-up with its
 * fsync, fsync itself, fallocate, copy_file_range, the control channel -
 * are queued to the workers, so they run in parallel and never stall the
 * reader.  A worker holds the branch lock for reading like the reader does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ufs.h"

struct ufs_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ufs_job *head, **tail;
	pthread_t *threads;
	unsigned int nthreads;
	bool stop;
};

static void
run_job(struct ufs_fs *fs, struct ufs_job *j)
{
	if (!j->nolock)
		pthread_rwlock_rdlock(&fs->br_lock);
	j->run(fs, j);
	if (!j->nolock)
		pthread_rwlock_unlock(&fs->br_lock);
	free(j);
}

static void *
worker(void *arg)
{
	struct ufs_fs *fs = arg;
	struct ufs_pool *p = fs->pool;

	for (;;) {
		struct ufs_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		j = p->head;
		if (j) {
			p->head = j->next;
			if (!p->head)
				p->tail = &p->head;
		}
		pthread_mutex_unlock(&p->lock);
		if (!j)
			return NULL;
		run_job(fs, j);
	}
}

int
ufs_pool_start(struct ufs_fs *fs, unsigned int nthreads)
{
	struct ufs_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->threads = calloc(nthreads, sizeof(*p->threads));
	if (!p->threads) {
		free(p);
		return -ENOMEM;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->tail = &p->head;
	fs->pool = p;
	for (; p->nthreads < nthreads; p->nthreads++)
		if (pthread_create(&p->threads[p->nthreads], NULL, worker, fs) != 0)
			break;
	return p->nthreads ? 0 : -EAGAIN;
}

/* Let the workers finish what is queued, then join them. */
void
ufs_pool_stop(struct ufs_fs *fs)
{
	struct ufs_pool *p = fs->pool;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
	fs->pool = NULL;
}

/* Queue a job (allocated by the caller with ufs_job_new; freed after it ran). */
void
ufs_pool_submit(struct ufs_fs *fs, struct ufs_job *j)
{
	struct ufs_pool *p = fs->pool;

	if (!p) {
		run_job(fs, j);	/* -s: everything on the one thread */
		return;
	}
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->tail = j;
	p->tail = &j->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* A job with `extra` bytes of copied request data behind it. */
struct ufs_job *
ufs_job_new(fuse_req_t req, void (*run)(struct ufs_fs *, struct ufs_job *), size_t extra)
{
	struct ufs_job *j = calloc(1, sizeof(*j) + extra);

	if (!j) {
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	j->req = req;
	j->run = run;
	return j;
}
