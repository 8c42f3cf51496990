bin_PROGRAMS += fs/unionfs
fs_unionfs_SOURCES = fs/ufs.h fs/main.c fs/opts.c fs/log.c fs/branch.c fs/node.c \
	fs/resolve.c fs/whiteout.c fs/copyup.c fs/links.c fs/readdir.c fs/cred.c \
	fs/ops.c fs/ops_entry.c fs/ops_namespace.c fs/ops_file.c fs/ops_dir.c \
	fs/ops_xattr.c fs/ctl.c fs/ufs_ctl.h fs/watch.c fs/passthrough.c fs/uring.c
fs_unionfs_CFLAGS = $(AM_CFLAGS) $(FUSE3_CFLAGS) $(LIBURING_CFLAGS) -pthread
fs_unionfs_LDADD = $(FUSE3_LIBS) $(LIBURING_LIBS) -lpthread

# mount(8) helper so that fstab entries of type "unionfs" work.  mount(8)
# looks for helpers in /sbin, so it goes there unless told otherwise.
mounthelperdir = $(MOUNT_HELPER_DIR)
mounthelper_SCRIPTS = fs/mount.unionfs
EXTRA_DIST += fs/mount.unionfs.in
CLEANFILES += fs/mount.unionfs
fs/mount.unionfs: $(srcdir)/fs/mount.unionfs.in Makefile
	$(AM_V_GEN)$(MKDIR_P) fs && sed -e 's|@bindir[@]|$(bindir)|g' $(srcdir)/fs/mount.unionfs.in > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@
all-local: fs/mount.unionfs
