/*
 * exec.c - `nsnet exec NAME -- CMD...` with the semantics of `ip netns
 * exec`: a private mount namespace with /sys remounted for the netns and
 * every /etc/netns/NAME/FILE bound over /etc/FILE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "nsnet.h"

/* A fresh sysfs shows the netns's own /sys/class/net. */
static int
ex_remount_sys(const char *name)
{
	unsigned long flags = 0;
	struct statvfs sv;

	if (umount2("/sys", MNT_DETACH) < 0 && statvfs("/sys", &sv) == 0 &&
	    (sv.f_flag & ST_RDONLY))
		flags = MS_RDONLY;
	if (mount(name, "/sys", "sysfs", flags, NULL) < 0) {
		cm_error("exec", name, "mount sysfs on /sys: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Like ip: a file that cannot be bound is a warning, not an error. */
static void
ex_bind_etc(const char *name)
{
	char dir[sizeof(NN_ETC_DIR) + NAME_MAX + 2], src[PATH_MAX], dst[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", NN_ETC_DIR, name);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(src, sizeof(src), "%s/%s", dir, de->d_name);
		snprintf(dst, sizeof(dst), "/etc/%s", de->d_name);
		if (mount(src, dst, "none", MS_BIND, NULL) < 0)
			cm_error("exec", name, "warning: bind %s on %s: %s", src, dst,
				 strerror(errno));
	}
	closedir(d);
}

static int
ex_enter(const char *name, int nsfd)
{
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		cm_error("exec", name, "setns: %s", strerror(errno));
		return -1;
	}
	close(nsfd);
	if (unshare(CLONE_NEWNS) < 0) {
		cm_error("exec", name, "unshare mount namespace: %s", strerror(errno));
		return -1;
	}
	/* Nothing we mount from here on may propagate back to the host. */
	if (mount("", "/", "none", MS_SLAVE | MS_REC, NULL) < 0) {
		cm_error("exec", name, "make / a slave mount: %s", strerror(errno));
		return -1;
	}
	if (ex_remount_sys(name) < 0)
		return -1;
	ex_bind_etc(name);
	return 0;
}

static void __attribute__((noreturn))
ex_child(const char *name, int nsfd, char **cmdv)
{
	if (ex_enter(name, nsfd) < 0)
		_exit(CM_EX_FAIL);
	execvp(cmdv[0], cmdv);
	cm_error("exec", cmdv[0], "%s", strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* The child's exit status, or 128+signal like a shell. */
static int
ex_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return CM_EX_FAIL;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int
cmd_exec(int argc, char **argv, const struct nn_opts *o)
{
	const char *why = nn_check_ns_lookup(argv[0]);
	char **cmdv = argv + 1;
	int rc, fd, status;
	pid_t pid;

	if (argc > 1 && !strcmp(cmdv[0], "--"))
		cmdv++;
	if (why || !*cmdv) {
		cm_error("exec", argv[0], why ? "invalid netns name: %s" : "%s",
			 why ? why : "missing command");
		return CM_EX_USAGE;
	}
	if ((rc = nn_need_caps(o, "exec", argv[0])))
		return rc;
	fd = ns_open(argv[0]);
	if (fd < 0)
		return nn_ns_fail("exec", argv[0], -fd);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return nn_fail("exec", argv[0], errno, NULL);
	if (pid == 0)
		ex_child(argv[0], fd, cmdv);
	close(fd);
	/* Like system(): a terminal ^C is for the child; we report its death. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	status = ex_wait(pid);
	return status;
}
