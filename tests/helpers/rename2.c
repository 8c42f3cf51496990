/* rename2: call renameat2(2) with flags Python cannot pass.
 *
 * usage: rename2 [-n] [-x] OLD NEW
 *   -n  RENAME_NOREPLACE   -x  RENAME_EXCHANGE
 * Exit status: 0 on success, errno of the failed call otherwise (so a test can
 * compare it with errno.EEXIST etc.), 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv)
{
	unsigned int flags = 0;
	int opt;

	while ((opt = getopt(argc, argv, "nx")) != -1) {
		switch (opt) {
		case 'n':
			flags |= RENAME_NOREPLACE;
			break;
		case 'x':
			flags |= RENAME_EXCHANGE;
			break;
		default:
			fprintf(stderr, "usage: rename2 [-n] [-x] OLD NEW\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "usage: rename2 [-n] [-x] OLD NEW\n");
		return 2;
	}
	/* Raw syscall: the libc wrapper may be missing on older systems. */
	if (syscall(SYS_renameat2, AT_FDCWD, argv[optind], AT_FDCWD,
		    argv[optind + 1], flags) < 0) {
		int err = errno;

		fprintf(stderr, "rename2: rename %s: %s\n", argv[optind], strerror(err));
		return err;
	}
	return 0;
}
