/* tmpfile: create an O_TMPFILE file in DIR, write DATA to it and, when NAME is
 * given, give it that name with linkat(2) through /proc/self/fd.
 *
 * usage: tmpfile DIR DATA [NAME]
 * Exit status: 0 on success, errno of the failed call, 2 for a usage error.
 * The failing step is named on stderr ("open", "write", "link").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *step, const char *obj)
{
	int err = errno;

	fprintf(stderr, "tmpfile: %s %s: %s\n", step, obj, strerror(err));
	return err;
}

int main(int argc, char **argv)
{
	char proc[64];
	size_t len;
	int fd;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: tmpfile DIR DATA [NAME]\n");
		return 2;
	}
	fd = open(argv[1], O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("open", argv[1]);
	len = strlen(argv[2]);
	if (write(fd, argv[2], len) != (ssize_t)len)
		return fail("write", argv[1]);
	if (argc == 4) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, argv[3], AT_SYMLINK_FOLLOW) < 0)
			return fail("link", argv[3]);
	}
	if (close(fd) < 0)
		return fail("close", argv[1]);
	return 0;
}
