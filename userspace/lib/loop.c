// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include "log.h"
#include "loop.h"

#define MAX_TIMERS 8

struct timer {
	struct tw_watch w;
	tw_loop_fn fn;
	void *ctx;
};

struct tw_loop {
	int ep;
	bool stop;
	struct tw_watch sig;
	tw_loop_fn on_hup;
	void *hup_ctx;
	struct timer timers[MAX_TIMERS];
	unsigned int ntimers;
};

struct tw_loop *tw_loop_new(void)
{
	struct tw_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->sig.fd = -1;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		int err = errno;

		free(l);
		errno = err;
		return NULL;
	}
	return l;
}

void tw_loop_free(struct tw_loop *l)
{
	if (!l)
		return;
	for (unsigned int i = 0; i < l->ntimers; i++)
		close(l->timers[i].w.fd);
	if (l->sig.fd >= 0)
		close(l->sig.fd);
	close(l->ep);
	free(l);
}

int tw_loop_add(struct tw_loop *l, struct tw_watch *w)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };

	return epoll_ctl(l->ep, EPOLL_CTL_ADD, w->fd, &ev) ? -errno : 0;
}

void tw_loop_del(struct tw_loop *l, struct tw_watch *w)
{
	epoll_ctl(l->ep, EPOLL_CTL_DEL, w->fd, NULL);
}

int tw_loop_mod(struct tw_loop *l, struct tw_watch *w, bool in, bool out)
{
	struct epoll_event ev = { .events = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0),
				  .data.ptr = w };

	return epoll_ctl(l->ep, EPOLL_CTL_MOD, w->fd, &ev) ? -errno : 0;
}

static void timer_expired(void *ctx)
{
	struct timer *t = ctx;
	uint64_t n;

	if (read(t->w.fd, &n, sizeof(n)) == sizeof(n))
		t->fn(t->ctx);
}

int tw_loop_timer(struct tw_loop *l, const char *name, unsigned int period_s, tw_loop_fn fn,
		  void *ctx)
{
	struct itimerspec its = { .it_interval = { period_s, 0 }, .it_value = { period_s, 0 } };
	struct timer *t;
	int err;

	if (l->ntimers == MAX_TIMERS)
		return -ENOSPC;
	t = &l->timers[l->ntimers];
	t->w = (struct tw_watch){ .name = name, .fn = timer_expired, .ctx = t };
	t->fn = fn;
	t->ctx = ctx;
	t->w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->w.fd < 0)
		return -errno;
	if (timerfd_settime(t->w.fd, 0, &its, NULL) || tw_loop_add(l, &t->w)) {
		err = -errno;
		close(t->w.fd);
		return err;
	}
	l->ntimers++;
	return 0;
}

static void oneshot_expired(void *ctx)
{
	struct tw_timer *t = ctx;
	uint64_t n;

	if (read(t->w.fd, &n, sizeof(n)) == sizeof(n))
		t->fn(t->ctx);
}

int tw_timer_init(struct tw_loop *l, struct tw_timer *t, const char *name, tw_loop_fn fn, void *ctx)
{
	int err;

	*t = (struct tw_timer){ .w = { .name = name, .fn = oneshot_expired, .ctx = t },
				.loop = l,
				.fn = fn,
				.ctx = ctx };
	t->w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->w.fd < 0)
		return -errno;
	err = tw_loop_add(l, &t->w);
	if (err) {
		close(t->w.fd);
		t->w.fd = -1;
	}
	return err;
}

int tw_timer_arm_ms(struct tw_timer *t, uint64_t ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (ms % 1000) * 1000000 } };

	return timerfd_settime(t->w.fd, 0, &its, NULL) ? -errno : 0;
}

void tw_timer_close(struct tw_timer *t)
{
	if (t->w.fd < 0)
		return;
	tw_loop_del(t->loop, &t->w);
	close(t->w.fd);
	t->w.fd = -1;
}

static void signal_arrived(void *ctx)
{
	struct tw_loop *l = ctx;
	struct signalfd_siginfo si;

	while (read(l->sig.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			l->on_hup(l->hup_ctx);
		else
			l->stop = true;
	}
}

int tw_loop_signals(struct tw_loop *l, tw_loop_fn on_hup, void *ctx)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	l->on_hup = on_hup;
	l->hup_ctx = ctx;
	l->sig = (struct tw_watch){ .name = "signals", .fn = signal_arrived, .ctx = l };
	l->sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (l->sig.fd < 0)
		return -errno;
	return tw_loop_add(l, &l->sig);
}

int tw_loop_run(struct tw_loop *l)
{
	while (!l->stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(l->ep, evs, 16, -1);

		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			struct tw_watch *w = evs[i].data.ptr;

			w->revents = evs[i].events;
			w->fn(w->ctx);
		}
	}
	return 0;
}

void tw_loop_stop(struct tw_loop *l)
{
	l->stop = true;
}
