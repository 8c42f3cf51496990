/* utimens: utimensat(2) with UTIME_NOW / UTIME_OMIT, which Python cannot pass.
 *
 * usage: utimens [-h] FILE ATIME MTIME
 *   ATIME, MTIME: "now", "omit" or SECONDS.NANOSECONDS (nanoseconds 9 digits)
 *   -h  do not follow a final symlink (AT_SYMLINK_NOFOLLOW)
 * Exit status: 0 on success, errno of the failed call, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_time(const char *word, struct timespec *ts)
{
	char *end;

	if (strcmp(word, "now") == 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
		return 0;
	}
	if (strcmp(word, "omit") == 0) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
		return 0;
	}
	errno = 0;
	ts->tv_sec = strtoll(word, &end, 10);
	if (errno || *end != '.')
		return -1;
	ts->tv_nsec = strtol(end + 1, &end, 10);
	if (errno || *end || ts->tv_nsec < 0 || ts->tv_nsec > 999999999)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct timespec ts[2];
	int flags = 0, first = 1, err;

	if (argc > 1 && strcmp(argv[1], "-h") == 0) {
		flags = AT_SYMLINK_NOFOLLOW;
		first = 2;
	}
	if (argc - first != 3 || parse_time(argv[first + 1], &ts[0]) < 0 ||
	    parse_time(argv[first + 2], &ts[1]) < 0) {
		fprintf(stderr, "usage: utimens [-h] FILE now|omit|S.NS now|omit|S.NS\n");
		return 2;
	}
	if (utimensat(AT_FDCWD, argv[first], ts, flags) < 0) {
		err = errno;
		fprintf(stderr, "utimens: utimensat %s: %s\n", argv[first], strerror(err));
		return err;
	}
	return 0;
}
