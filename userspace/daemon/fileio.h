/* SPDX-License-Identifier: GPL-2.0-only */
/* Whole-file reads and atomic replacement, for the config, policy and status files. */
#ifndef TW_FILEIO_H
#define TW_FILEIO_H

#include <stddef.h>

#include "safefile.h"

/* @path into a malloc'd, NUL-terminated *@buf of *@len bytes. 0 or -errno. */
int tw_read_file(const char *path, char **buf, size_t *len);

/* tw_write_atomic(): safefile.h (random O_EXCL temp name, mode 0600, rename) */

#endif /* TW_FILEIO_H */
