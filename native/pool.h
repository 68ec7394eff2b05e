/*
 * The native thread pool: `threads − 1` pthreads that run one task together with the calling thread.
 * A task is a function called once per lane (lane 0 is the caller); tasks share out their work through
 * an atomic counter of their own (see bn_next). Between tasks the workers spin briefly on the job
 * counter, then sleep on a futex (a condition variable where there is no futex), so an idle model costs
 * no CPU and back-to-back tasks of one forward pass cost no system call.
 */
#ifndef BITNET_POOL_H
#define BITNET_POOL_H

#include <stdint.h>

typedef struct bn_pool bn_pool;
typedef void (*bn_task)(void *arg, int lane, int lanes);

/* Starts threads − 1 workers (none for threads ≤ 1); spin_us: how long an idle worker polls before it sleeps. NULL if a thread failed to start. */
bn_pool *bn_pool_start(int threads, int spin_us);
/* Lanes a task may use: the workers and the caller. */
int bn_pool_lanes(const bn_pool *p);
/* Runs task(arg, lane, lanes) on `lanes` lanes (clamped to the pool's), returning when all are done. */
void bn_pool_run(bn_pool *p, bn_task task, void *arg, int lanes);
/* Stops and joins the workers, frees the pool. */
void bn_pool_stop(bn_pool *p);
/* Tasks run so far on more than one lane (for tests). */
uint64_t bn_pool_split_tasks(const bn_pool *p);

/* Next index of a shared counter (tasks hand out chunks of work with it). */
int64_t bn_next(volatile int64_t *counter);

#endif
