/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's one event loop (epoll). Modules register what they serve: a
 * descriptor with a callback (struct tw_watch, owned by the module and named
 * for the logs), a periodic timer, the signals. Callbacks must not block:
 * every descriptor is non-blocking or bounded by a deadline.
 */
#ifndef TW_LOOP_H
#define TW_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct tw_loop;

typedef void (*tw_loop_fn)(void *ctx);

struct tw_watch {
	const char *name; /* "control socket", "netlink links", ... */
	int fd;
	tw_loop_fn fn; /* called when @fd is ready for what it waits for */
	void *ctx;
	uint32_t revents; /* EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR: set before @fn is called */
};

struct tw_loop *tw_loop_new(void);
void tw_loop_free(struct tw_loop *l);

/* Serve @w->fd until tw_loop_del(); @w must stay valid until then. */
int tw_loop_add(struct tw_loop *l, struct tw_watch *w);
void tw_loop_del(struct tw_loop *l, struct tw_watch *w);

/*
 * What @w->fd waits for: readable (@in), writable (@out), either or neither
 * (a peer that must not be read until its replies are taken still reports
 * EPOLLHUP and EPOLLERR). -errno.
 */
int tw_loop_mod(struct tw_loop *l, struct tw_watch *w, bool in, bool out);

/* Call @fn every @period_s seconds (CLOCK_MONOTONIC), first after one period. */
int tw_loop_timer(struct tw_loop *l, const char *name, unsigned int period_s, tw_loop_fn fn,
		  void *ctx);

/*
 * A one-shot timer a module owns (a deadline, a backoff): a timerfd served by
 * the loop. tw_timer_arm_ms() (re)arms it to fire once after @ms (0
 * disarms); @fn runs from the loop. tw_timer_close() before freeing it.
 */
struct tw_timer {
	struct tw_watch w;
	struct tw_loop *loop;
	tw_loop_fn fn;
	void *ctx;
};
int tw_timer_init(struct tw_loop *l, struct tw_timer *t, const char *name, tw_loop_fn fn,
		  void *ctx);
int tw_timer_arm_ms(struct tw_timer *t, uint64_t ms);
void tw_timer_close(struct tw_timer *t);

/*
 * Take SIGHUP, SIGTERM and SIGINT through a signalfd (and ignore SIGPIPE):
 * HUP calls @on_hup, TERM and INT stop the loop.
 */
int tw_loop_signals(struct tw_loop *l, tw_loop_fn on_hup, void *ctx);

/* Serve until tw_loop_stop() or a stop signal. 0, or -errno from epoll_wait. */
int tw_loop_run(struct tw_loop *l);
void tw_loop_stop(struct tw_loop *l);

#endif /* TW_LOOP_H */
