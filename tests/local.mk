# The pytest suite runs through one automake test script (77 = skip).
TESTS += tests/run-pytest
AM_TESTS_ENVIRONMENT = \
	abs_top_builddir='$(abs_top_builddir)'; export abs_top_builddir; \
	abs_top_srcdir='$(abs_top_srcdir)'; export abs_top_srcdir; \
	PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE;
EXTRA_DIST += tests/run-pytest tests/pytest.ini tests/conftest.py tests/util.py \
	tests/demo.sh tests/fs tests/nsnet tests/cgfreeze tests/reliability tests/overlay tests/ctl

dist-hook:
	find $(distdir)/tests -name __pycache__ -prune -exec rm -rf {} +
