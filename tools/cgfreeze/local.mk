# cgfreeze: cgroup freezer tool (v1 through libcgroup, v2 through cgroupfs).
bin_PROGRAMS += tools/cgfreeze/cgfreeze
tools_cgfreeze_cgfreeze_SOURCES = \
	tools/cgfreeze/cgfreeze.h \
	tools/cgfreeze/main.c \
	tools/cgfreeze/mode.c \
	tools/cgfreeze/cgfs.c \
	tools/cgfreeze/v1lib.c \
	tools/cgfreeze/freezer.c \
	tools/cgfreeze/cmd_common.c \
	tools/cgfreeze/cmd_group.c \
	tools/cgfreeze/cmd_delete.c \
	tools/cgfreeze/cmd_freeze.c \
	tools/cgfreeze/cmd_list.c
tools_cgfreeze_cgfreeze_CFLAGS = $(AM_CFLAGS) $(LIBCGROUP_CFLAGS)
tools_cgfreeze_cgfreeze_LDADD = tools/common/libcommon.a $(LIBCGROUP_LIBS)
