// SPDX-License-Identifier: GPL-2.0-only
/*
 * Change notification: a unix datagram socket at PATH.notify. The server
 * binds it; a writer sends one empty datagram after each commit. The poke
 * carries nothing (the store says what changed), so lost or merged pokes
 * are harmless, and a writer with no server running just gets ENOENT or
 * ECONNREFUSED and goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "polstore_int.h"

static int notify_addr(struct tw_polstore *ps, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(ps->notify_path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, ps->notify_path);
	return 0;
}

void tw_polstore_poke(struct tw_polstore *ps)
{
	struct sockaddr_un sun;
	int fd;

	if (notify_addr(ps, &sun))
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	/* Full queue (EAGAIN): the server has pokes pending already. */
	(void)sendto(fd, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
}

/* A socket file nobody listens on is left from a crashed server: take its place. */
static int clear_stale(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		ret = -EADDRINUSE; /* another server is running */
	else if (errno == ECONNREFUSED)
		ret = unlink(sun->sun_path) ? -errno : 0;
	close(fd);
	return ret;
}

int tw_polstore_notify_fd(struct tw_polstore *ps)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, ret;

	if (ps->notify_fd >= 0)
		return ps->notify_fd;
	ret = notify_addr(ps, &sun);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* 0600 from the start: no window in which others could connect. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	if (ret && errno == EADDRINUSE) {
		ret = clear_stale(&sun);
		if (!ret)
			ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
		else
			errno = -ret;
	}
	umask(old);
	if (ret) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ps->notify_fd = fd;
	return fd;
}

void tw_polstore_notify_drain(struct tw_polstore *ps)
{
	char buf[16];

	if (ps->notify_fd < 0)
		return;
	while (recv(ps->notify_fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}
