/* fsioctl: inode flag ioctls (what lsattr/chattr do) and an unknown ioctl.
 *
 * usage: fsioctl get FILE          print FS_IOC_GETFLAGS as 0x%08x
 *        fsioctl set FILE FLAGS    FS_IOC_SETFLAGS (FLAGS in C notation)
 *        fsioctl unknown FILE      issue an ioctl nobody implements
 * Exit status: 0 on success, errno of the failed call, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* An _IOR number in an unused ioctl "type" letter space. */
#define FSIOCTL_UNKNOWN _IOR(0xee, 0x42, int)

static int fail(const char *step, const char *obj)
{
	int err = errno;

	fprintf(stderr, "fsioctl: %s %s: %s\n", step, obj, strerror(err));
	return err;
}

static int do_ioctl(const char *cmd, int fd, const char *arg)
{
	char *end;
	int flags = 0;

	if (strcmp(cmd, "get") == 0) {
		if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0)
			return -1;
		printf("0x%08x\n", (unsigned int)flags);
		return 0;
	}
	if (strcmp(cmd, "set") == 0) {
		flags = (int)strtoul(arg, &end, 0);
		return ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	return ioctl(fd, FSIOCTL_UNKNOWN, &flags);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int want = strcmp(cmd, "set") == 0 ? 4 : 3;
	int fd;

	if (argc != want || (strcmp(cmd, "get") && strcmp(cmd, "set") &&
			     strcmp(cmd, "unknown"))) {
		fprintf(stderr, "usage: fsioctl get|set|unknown FILE [FLAGS]\n");
		return 2;
	}
	fd = open(argv[2], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return fail("open", argv[2]);
	if (do_ioctl(cmd, fd, argv[3]) < 0)
		return fail("ioctl", argv[2]);
	close(fd);
	return 0;
}
