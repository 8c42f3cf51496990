# unionfs-convert: rewrites a branch's whiteout/opaque markers between the
# unionfs-fuse and kernel overlayfs formats.  No FUSE, no daemon sources.
bin_PROGRAMS += fs/unionfs-convert
fs_unionfs_convert_SOURCES = fs/convert.h fs/convert.c fs/convert_util.c \
	fs/convert_scan.c fs/convert_plan.c fs/convert_apply.c
fs_unionfs_convert_CFLAGS = $(AM_CFLAGS)
fs_unionfs_convert_LDADD = tools/common/libcommon.a
