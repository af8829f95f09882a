/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Files and directories the daemon creates or adopts: never through a
 * symlink, never with the caller's umask, never one another uid owns.
 * Directories are checked on an fd opened O_DIRECTORY|O_NOFOLLOW, so what
 * is checked is what is used; new files are made with O_EXCL (or a random
 * mkstemp name) and an explicit mode. Errors name the path, its owner and
 * its mode in @err.
 */
#ifndef TW_SAFEFILE_H
#define TW_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How tw_dir_secure() judges an existing directory. */
enum tw_dir_rule {
	TW_DIR_PRIVATE, /* owned by us (euid), mode exactly the one asked: the pin root */
	TW_DIR_NOWRITE, /* owned by us, no group/other write bit: state and run dirs */
};

/*
 * Create @name (relative to @dirfd, or absolute with AT_FDCWD) with @mode if
 * it is missing, then open it O_DIRECTORY|O_NOFOLLOW and check it by @rule.
 * One we created gets exactly @mode whatever the umask. Returns the open
 * directory fd (the caller closes it) or -errno, with the reason in @err,
 * which names it @shown (the full path; NULL: @name).
 */
int tw_dir_secure(int dirfd, const char *name, const char *shown, mode_t mode,
		  enum tw_dir_rule rule, char *err, size_t errlen);

/*
 * A regular file at @path for the daemon's own use (a database): created
 * O_EXCL|O_NOFOLLOW with @mode, or an existing one opened O_NOFOLLOW that we
 * own with one link; an existing one with other mode bits is fixed to
 * @mode (fchmod on the fd). 0 or -errno, the reason in @err.
 */
int tw_file_prepare(const char *path, mode_t mode, char *err, size_t errlen);

/*
 * Replace @path with @len bytes of @data, mode @mode: a fresh file under a
 * random name beside it (mkstemp: O_EXCL, never a symlink), fsync, rename
 * over @path (which replaces a symlink there, never follows it). 0 or -errno.
 */
int tw_write_atomic_mode(const char *path, const char *data, size_t len, mode_t mode);

/* tw_write_atomic_mode() with 0600. */
int tw_write_atomic(const char *path, const char *data, size_t len);

#endif /* TW_SAFEFILE_H */
