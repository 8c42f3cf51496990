# C helpers for tests (check_PROGRAMS): syscalls Python cannot make directly.
# Each exits with the errno of the failed call, so tests compare exact errors.
check_PROGRAMS += tests/helpers/rename2
tests_helpers_rename2_SOURCES = tests/helpers/rename2.c
check_PROGRAMS += tests/helpers/falloc
tests_helpers_falloc_SOURCES = tests/helpers/falloc.c
check_PROGRAMS += tests/helpers/tmpfile
tests_helpers_tmpfile_SOURCES = tests/helpers/tmpfile.c
check_PROGRAMS += tests/helpers/fsioctl
tests_helpers_fsioctl_SOURCES = tests/helpers/fsioctl.c
check_PROGRAMS += tests/helpers/utimens
tests_helpers_utimens_SOURCES = tests/helpers/utimens.c
