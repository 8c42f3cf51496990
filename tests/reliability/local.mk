# Reliability suite (tests/reliability): C helpers and the long-run targets.
#   make check           bounded runs (part of the normal pytest suite)
#   make stress          the same tests with UFS_STRESS=1: long runs (1M fsx
#                        operations, more crash points, model sequences, more
#                        entries for the memory walk)
#   make check-valgrind  the subset marked `valgrind`, daemon under memcheck
check_PROGRAMS += tests/reliability/fsx
tests_reliability_fsx_SOURCES = tests/reliability/fsx.c

REL_PYTEST = abs_top_builddir='$(abs_top_builddir)' abs_top_srcdir='$(abs_top_srcdir)' \
	PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest -p no:cacheprovider \
	-c '$(abs_top_srcdir)/tests/pytest.ini' --rootdir '$(abs_top_srcdir)/tests'

.PHONY: stress check-valgrind
stress: all $(check_PROGRAMS)
	UFS_STRESS=$${UFS_STRESS:-1} $(REL_PYTEST) $(PYTEST_ARGS) '$(abs_top_srcdir)/tests/reliability'

check-valgrind: all $(check_PROGRAMS)
	@command -v valgrind >/dev/null || { echo "check-valgrind: valgrind is not installed" >&2; exit 1; }
	UFS_VALGRIND=1 $(REL_PYTEST) -m valgrind $(PYTEST_ARGS) '$(abs_top_srcdir)/tests/reliability'
