# make bench: the project's benchmark (bench/README.md).  It mounts the
# unionfs built here and every installed peer on identical branches and
# prints a markdown table.  Needs root; never part of `make check`.
# Extra arguments: make bench BENCH_ARGS="--scale 0.1 --json out.json"
EXTRA_DIST += bench/unionfs-bench bench/README.md

BENCH_ARGS =

.PHONY: bench
bench: fs/unionfs
	$(PYTHON3) $(srcdir)/bench/unionfs-bench --bin $(abs_top_builddir)/fs/unionfs $(BENCH_ARGS)
