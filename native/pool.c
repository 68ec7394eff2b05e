/*
 * Thread pool with a spin-then-sleep barrier (see pool.h for the contract).
 *
 * Protocol, on two 32-bit words:
 * - `seq` counts tasks. The caller publishes task, arg and lanes, then increments seq and wakes sleepers
 *   (only if a worker said it sleeps). A worker that sees seq change runs its lane (or nothing, if its
 *   lane ≥ lanes), then increments `done`.
 * - The caller runs lane 0, then waits for done = workers: it spins, then sleeps on `done`; the last
 *   worker wakes it if it said it sleeps.
 * Each "said it sleeps" flag is written before the sleeper re-checks its word, and read after the other
 * side changed that word, all sequentially consistent: one of the two always sees the other (no lost
 * wake-up). Sleeping is FUTEX_WAIT on Linux, a condition variable elsewhere.
 * Spinning is bounded by time (spin_us), so threads sleep within that long after the last task, and
 * yields the core every few microseconds: on a machine with more runnable threads than cores, the
 * thread being waited for may be queued on the spinner's own core (a 4-layer decode on 2 threads ran
 * 2.5× faster on a busy machine with the yields than without).
 */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

/* 0: spin without yielding (for experiments on a quiet machine). */
#ifndef YIELD_SPINS
#define YIELD_SPINS 1
#endif

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

typedef struct {
  bn_pool *pool;
  int lane;
} worker_arg;

struct bn_pool {
  int workers;
  int spin_us;
  pthread_t *threads;
  worker_arg *args;
  /* the task being run */
  bn_task task;
  void *arg;
  int lanes;
  uint32_t seq;
  uint32_t done;
  int stop;
  /* how many workers sleep on seq; whether the caller sleeps on done */
  int sleepers;
  int caller_sleeps;
  uint64_t split_tasks;
#if !defined(__linux__)
  pthread_mutex_t mu;
  pthread_cond_t cv;
#endif
};

int64_t bn_next(volatile int64_t *counter) { return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); }

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Sleeps while *word == expected (spurious returns are fine: callers loop). */
static void wait_on(bn_pool *p, uint32_t *word, uint32_t expected) {
#if defined(__linux__)
  (void)p;
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
  pthread_mutex_lock(&p->mu);
  while (LOAD(word) == expected) pthread_cond_wait(&p->cv, &p->mu);
  pthread_mutex_unlock(&p->mu);
#endif
}

static void wake_all(bn_pool *p, uint32_t *word) {
#if defined(__linux__)
  (void)p;
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
#else
  (void)word;
  pthread_mutex_lock(&p->mu);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
#endif
}

/* Returns once *word != value: spins up to spin_us, then sleeps, flagging it in *sleep_flag (a counter). */
static uint32_t await_change(bn_pool *p, uint32_t *word, uint32_t value, int *sleep_flag) {
  uint32_t v = LOAD(word);
  if (v != value) return v;
  double until = now_us() + p->spin_us;
  for (int i = 0;; i++) {
    for (int k = 0; k < 64; k++) {
      CPU_RELAX();
      v = LOAD(word);
      if (v != value) return v;
    }
    /* Every few microseconds, give the core to a runnable thread: on a busy machine the thread we wait
     * for may be queued on this very core, and plain spinning would only delay it. */
    if ((i & 7) == 7) {
      if (now_us() > until) break;
      if (YIELD_SPINS) sched_yield();
    }
  }
  ADD(sleep_flag, 1);
  while ((v = LOAD(word)) == value) wait_on(p, word, value);
  ADD(sleep_flag, -1);
  return v;
}

static void *worker_main(void *a) {
  worker_arg *w = (worker_arg *)a;
  bn_pool *p = w->pool;
  uint32_t seen = 0;
  for (;;) {
    seen = await_change(p, &p->seq, seen, &p->sleepers);
    if (LOAD(&p->stop)) break;
    int lanes = p->lanes;
    if (w->lane < lanes) p->task(p->arg, w->lane, lanes);
    /* done counts every worker, busy or not, so the caller waits for one number */
    if (ADD(&p->done, 1) == (uint32_t)p->workers && LOAD(&p->caller_sleeps)) wake_all(p, &p->done);
  }
  return NULL;
}

bn_pool *bn_pool_start(int threads, int spin_us) {
  bn_pool *p = (bn_pool *)calloc(1, sizeof *p);
  if (!p) return NULL;
  p->workers = threads > 1 ? threads - 1 : 0;
  p->spin_us = spin_us < 0 ? 0 : spin_us;
#if !defined(__linux__)
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
#endif
  if (p->workers == 0) return p;
  p->threads = (pthread_t *)calloc((size_t)p->workers, sizeof(pthread_t));
  p->args = (worker_arg *)calloc((size_t)p->workers, sizeof(worker_arg));
  if (!p->threads || !p->args) {
    free(p->threads);
    free(p->args);
    free(p);
    return NULL;
  }
  for (int i = 0; i < p->workers; i++) {
    p->args[i].pool = p;
    p->args[i].lane = i + 1;
    if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
      p->workers = i; /* stop the ones that started */
      bn_pool_stop(p);
      return NULL;
    }
  }
  return p;
}

int bn_pool_lanes(const bn_pool *p) { return p->workers + 1; }

uint64_t bn_pool_split_tasks(const bn_pool *p) { return p->split_tasks; }

void bn_pool_run(bn_pool *p, bn_task task, void *arg, int lanes) {
  if (lanes > p->workers + 1) lanes = p->workers + 1;
  if (lanes <= 1 || p->workers == 0) {
    task(arg, 0, 1);
    return;
  }
  p->split_tasks++;
  p->task = task;
  p->arg = arg;
  p->lanes = lanes;
  STORE(&p->done, 0);
  ADD(&p->seq, 1);
  if (LOAD(&p->sleepers) > 0) wake_all(p, &p->seq);
  task(arg, 0, lanes);
  /* wait for every worker (idle ones report at once) */
  uint32_t d = LOAD(&p->done);
  while (d != (uint32_t)p->workers) d = await_change(p, &p->done, d, &p->caller_sleeps);
}

void bn_pool_stop(bn_pool *p) {
  if (!p) return;
  if (p->workers > 0) {
    STORE(&p->stop, 1);
    ADD(&p->seq, 1);
    wake_all(p, &p->seq);
    for (int i = 0; i < p->workers; i++) pthread_join(p->threads[i], NULL);
  }
#if !defined(__linux__)
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
#endif
  free(p->threads);
  free(p->args);
  free(p);
}
