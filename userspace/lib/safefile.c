// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

/* "PATH: WHY" into @err, @e back */
static int fail(char *err, size_t n, int e, const char *path, const char *why)
{
	if (err && n)
		snprintf(err, n, "%s: %s", path, why);
	return e;
}

/* "owned by uid 65534 with mode 0777", for the refusals below */
static int refuse(char *err, size_t n, const char *path, const struct stat *st, const char *want)
{
	if (err && n)
		snprintf(err, n, "%s: owned by uid %u with mode %04o: %s", path,
			 (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777), want);
	return -EPERM;
}

int tw_dir_secure(int dirfd, const char *name, const char *shown, mode_t mode,
		  enum tw_dir_rule rule, char *err, size_t errlen)
{
	bool made = mkdirat(dirfd, name, mode) == 0;
	char want[128];
	struct stat st;
	int fd, e;

	if (!shown)
		shown = name;
	if (!made && errno != EEXIST)
		return fail(err, errlen, -errno, shown, strerror(errno));
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		/* O_DIRECTORY|O_NOFOLLOW on a symlink to a directory: ENOTDIR */
		if (!fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
			return fail(err, errlen, -ELOOP, shown,
				    "is a symbolic link, not a directory");
		return fail(err, errlen, e, shown, strerror(-e));
	}
	if (fstat(fd, &st))
		goto err_errno;
	/* ours, just made: the umask may have taken bits, set exactly @mode */
	if (made && st.st_uid == geteuid() && (st.st_mode & 07777) != mode) {
		if (fchmod(fd, mode) || fstat(fd, &st))
			goto err_errno;
	}
	if (rule == TW_DIR_PRIVATE)
		snprintf(want, sizeof(want),
			 "it must be a directory owned by uid %u with mode %04o",
			 (unsigned)geteuid(), (unsigned)mode);
	else
		snprintf(want, sizeof(want),
			 "it must be a directory owned by uid %u that no group or other may write",
			 (unsigned)geteuid());
	if (st.st_uid != geteuid() ||
	    (rule == TW_DIR_PRIVATE ? (st.st_mode & 07777) != mode : (st.st_mode & 022) != 0)) {
		close(fd);
		return refuse(err, errlen, shown, &st, want);
	}
	return fd;

err_errno:
	e = -errno;
	close(fd);
	return fail(err, errlen, e, shown, strerror(-e));
}

int tw_file_prepare(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct stat st;
	char want[96];
	int fd, e;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd >= 0) {
		e = fchmod(fd, mode) ? -errno : 0; /* the umask may have taken bits */
		close(fd);
		return e ? fail(err, errlen, e, path, strerror(-e)) : 0;
	}
	if (errno != EEXIST)
		return fail(err, errlen, -errno, path, strerror(errno));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		return fail(err, errlen, e, path,
			    e == -ELOOP ? "is a symbolic link, not a file" : strerror(-e));
	}
	if (fstat(fd, &st))
		goto err_errno;
	snprintf(want, sizeof(want), "it must be a regular file owned by uid %u with one link",
		 (unsigned)geteuid());
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
		close(fd);
		return refuse(err, errlen, path, &st, want);
	}
	/* ours, but readable by others (an older release, another umask): fix it */
	if ((st.st_mode & 07777) != mode && fchmod(fd, mode))
		goto err_errno;
	close(fd);
	return 0;

err_errno:
	e = -errno;
	close(fd);
	return fail(err, errlen, e, path, strerror(-e));
}

int tw_write_atomic_mode(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t off = 0;
	int fd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode))
		err = -errno;
	while (!err && off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno != EINTR)
			err = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -EIO;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int tw_write_atomic(const char *path, const char *data, size_t len)
{
	return tw_write_atomic_mode(path, data, len, 0600);
}
