// SPDX-License-Identifier: GPL-2.0-only
/*
 * userspace/lib/safefile.c on real files in a private temp directory: the
 * atomic write never follows a symlink planted at its temp name or at the
 * target, and makes 0600 files under umask 0; directories and files another
 * uid owns, or others may write, are refused with a message naming the
 * path, the owner and the mode (issue 13, items 5 and 6).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "safefile.h"

static char dir[64];

static mode_t mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		test__diag("could not remove %s", dir);
}

static void subtest_atomic(void)
{
	char path[128], tmp[160], victim[128], buf[64] = "";
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/status.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ASSERT_TRUE(fd >= 0 && write(fd, "precious\n", 9) == 9, "victim written");
	close(fd);

	/* the old helper wrote through <path>.tmp: plant it */
	ASSERT_OK(symlink(victim, tmp), "symlink at <path>.tmp");
	ASSERT_OK(tw_write_atomic(path, "{\"a\":1}\n", 8), "write with <path>.tmp planted");
	fd = open(victim, O_RDONLY);
	ASSERT_EQ(read(fd, buf, sizeof(buf) - 1), 9, "victim untouched (size)");
	close(fd);
	ASSERT_STREQ(buf, "precious\n", "victim untouched");
	ASSERT_EQ(mode_of(path), 0600, "0600 under umask 0");

	/* a symlink at the target itself is replaced, never written through */
	unlink(path);
	ASSERT_OK(symlink(victim, path), "symlink at the path");
	ASSERT_OK(tw_write_atomic(path, "x\n", 2), "write over a symlink");
	ASSERT_TRUE(!lstat(path, &st) && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600,
		    "path is now a regular 0600 file");
	fd = open(victim, O_RDONLY);
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(read(fd, buf, sizeof(buf) - 1), 9, "victim still untouched");
	close(fd);

	ASSERT_OK(tw_write_atomic_mode(path, "y\n", 2, 0644), "explicit mode");
	ASSERT_EQ(mode_of(path), 0644, "the mode asked for");
	ASSERT_EQ(tw_write_atomic("/nonexistent-dir/x", "y", 1), -ENOENT, "no dir: -ENOENT");
}

static void subtest_dirs(void)
{
	char path[128], err[512];
	int fd;

	snprintf(path, sizeof(path), "%s/pins", dir);
	fd = tw_dir_secure(AT_FDCWD, path, NULL, 0700, TW_DIR_PRIVATE, err, sizeof(err));
	ASSERT_TRUE(fd >= 0, "created");
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(mode_of(path), 0700, "created 0700 under umask 0");

	/* the attacker's pre-created directory */
	ASSERT_OK(chmod(path, 01777), "make it world-writable");
	fd = tw_dir_secure(AT_FDCWD, path, NULL, 0700, TW_DIR_PRIVATE, err, sizeof(err));
	ASSERT_EQ(fd, -EPERM, "a 1777 pin root refused");
	ASSERT_TRUE(strstr(err, path) && strstr(err, "owned by uid 0 with mode 1777"),
		    "the message names path, owner and mode");
	ASSERT_OK(chmod(path, 0700), "back to 0700");
	ASSERT_OK(chown(path, 65534, 65534), "give it to nobody");
	fd = tw_dir_secure(AT_FDCWD, path, NULL, 0700, TW_DIR_PRIVATE, err, sizeof(err));
	ASSERT_EQ(fd, -EPERM, "nobody's pin root refused");
	ASSERT_TRUE(strstr(err, "owned by uid 65534 with mode 0700") != NULL, err);

	/* a 0755 state dir of ours is fine under NOWRITE, not 0775 */
	snprintf(path, sizeof(path), "%s/state", dir);
	ASSERT_OK(mkdir(path, 0755), "state dir");
	ASSERT_OK(chmod(path, 0755), "0755");
	fd = tw_dir_secure(AT_FDCWD, path, NULL, 0700, TW_DIR_NOWRITE, err, sizeof(err));
	ASSERT_TRUE(fd >= 0, "a 0755 state dir is accepted");
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(mode_of(path), 0755, "and left as it is");
	ASSERT_OK(chmod(path, 0775), "0775");
	ASSERT_EQ(tw_dir_secure(AT_FDCWD, path, NULL, 0700, TW_DIR_NOWRITE, err, sizeof(err)),
		  -EPERM, "a group-writable one is not");

	/* a symlink to a good directory is not one */
	snprintf(path, sizeof(path), "%s/link", dir);
	ASSERT_OK(symlink("/", path), "symlink");
	ASSERT_EQ(tw_dir_secure(AT_FDCWD, path, NULL, 0700, TW_DIR_NOWRITE, err, sizeof(err)),
		  -ELOOP, "a symlink refused");
	ASSERT_TRUE(strstr(err, "symbolic link") != NULL, err);
}

static void subtest_prepare(void)
{
	char path[128], err[512];
	int fd;

	snprintf(path, sizeof(path), "%s/journal.db", dir);
	ASSERT_OK(tw_file_prepare(path, 0600, err, sizeof(err)), "created");
	ASSERT_EQ(mode_of(path), 0600, "0600 under umask 0");
	ASSERT_OK(chmod(path, 0644), "an older release's 0644");
	ASSERT_OK(tw_file_prepare(path, 0600, err, sizeof(err)), "accepted");
	ASSERT_EQ(mode_of(path), 0600, "and fixed to 0600");
	ASSERT_OK(chown(path, 65534, 65534), "nobody's");
	ASSERT_EQ(tw_file_prepare(path, 0600, err, sizeof(err)), -EPERM, "nobody's file refused");
	ASSERT_TRUE(strstr(err, "owned by uid 65534") != NULL, err);

	snprintf(path, sizeof(path), "%s/sessions.db", dir);
	ASSERT_OK(symlink("/etc/passwd", path), "symlink");
	ASSERT_EQ(tw_file_prepare(path, 0600, err, sizeof(err)), -ELOOP, "symlink refused");
	ASSERT_EQ(mode_of("/etc/passwd"), 0644, "its target untouched");

	snprintf(path, sizeof(path), "%s/hard.db", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	close(fd);
	snprintf(err, sizeof(err), "%s/hard2.db", dir);
	ASSERT_OK(link(path, err), "hard link");
	ASSERT_EQ(tw_file_prepare(path, 0600, err, sizeof(err)), -EPERM, "two links refused");
}

void test_safefile(void)
{
	mode_t old;

	if (!test__need_root())
		return; /* chown to another uid */
	snprintf(dir, sizeof(dir), "/tmp/tw-safefile-XXXXXX");
	if (!ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp"))
		return;
	old = umask(0);
	if (test__start_subtest("atomic_write"))
		subtest_atomic();
	if (test__start_subtest("dirs"))
		subtest_dirs();
	if (test__start_subtest("prepare"))
		subtest_prepare();
	umask(old);
	cleanup();
}
