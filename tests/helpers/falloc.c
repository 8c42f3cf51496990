/* falloc: call fallocate(2) with a mode Python's posix_fallocate cannot pass.
 *
 * usage: falloc MODE FILE OFFSET LENGTH
 *   MODE: alloc (0), keep (KEEP_SIZE), punch (PUNCH_HOLE|KEEP_SIZE),
 *         zero (ZERO_RANGE)
 * Exit status: 0 on success, errno of the failed call, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_mode(const char *word, int *mode)
{
	if (strcmp(word, "alloc") == 0)
		*mode = 0;
	else if (strcmp(word, "keep") == 0)
		*mode = FALLOC_FL_KEEP_SIZE;
	else if (strcmp(word, "punch") == 0)
		*mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (strcmp(word, "zero") == 0)
		*mode = FALLOC_FL_ZERO_RANGE;
	else
		return -1;
	return 0;
}

static int parse_off(const char *word, off_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(word, &end, 0);
	if (errno || *end || v < 0)
		return -1;
	*out = (off_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	off_t off, len;
	int mode, fd, err;

	if (argc != 5 || parse_mode(argv[1], &mode) < 0 ||
	    parse_off(argv[3], &off) < 0 || parse_off(argv[4], &len) < 0) {
		fprintf(stderr, "usage: falloc alloc|keep|punch|zero FILE OFFSET LENGTH\n");
		return 2;
	}
	fd = open(argv[2], O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		fprintf(stderr, "falloc: open %s: %s\n", argv[2], strerror(err));
		return err;
	}
	if (fallocate(fd, mode, off, len) < 0) {
		err = errno;
		fprintf(stderr, "falloc: fallocate %s: %s\n", argv[2], strerror(err));
		close(fd);
		return err;
	}
	if (close(fd) < 0) {
		err = errno;
		fprintf(stderr, "falloc: close %s: %s\n", argv[2], strerror(err));
		return err;
	}
	return 0;
}
