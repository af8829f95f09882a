/* SPDX-License-Identifier: GPL-2.0-only */
/* Whole-file reads and atomic replacement, for the config, policy and status files. */
#ifndef TW_FILEIO_H
#define TW_FILEIO_H

#include <stddef.h>

/* @path into a malloc'd, NUL-terminated *@buf of *@len bytes. 0 or -errno. */
int tw_read_file(const char *path, char **buf, size_t *len);

/* Replace @path with @len bytes of @data: write PATH.tmp, fsync, rename. 0 or -errno. */
int tw_write_atomic(const char *path, const char *data, size_t len);

#endif /* TW_FILEIO_H */
