# nsnet: named network namespaces and veth wiring over rtnetlink (libmnl).
bin_PROGRAMS += tools/nsnet/nsnet
tools_nsnet_nsnet_SOURCES = \
	tools/nsnet/nsnet.c tools/nsnet/nsnet.h \
	tools/nsnet/nl.c tools/nsnet/nl.h \
	tools/nsnet/netns.c tools/nsnet/proc.c tools/nsnet/undo.c \
	tools/nsnet/addr.c tools/nsnet/nscmd.c tools/nsnet/list.c \
	tools/nsnet/procns.c tools/nsnet/exec.c \
	tools/nsnet/wire.c tools/nsnet/wire.h tools/nsnet/connect.c \
	tools/nsnet/route.c tools/nsnet/bridge.c tools/nsnet/ping.c
tools_nsnet_nsnet_CFLAGS = $(AM_CFLAGS) $(LIBMNL_CFLAGS)
tools_nsnet_nsnet_LDADD = tools/common/libcommon.a $(LIBMNL_LIBS)
