noinst_LIBRARIES += tools/common/libcommon.a
tools_common_libcommon_a_SOURCES = tools/common/common.c tools/common/common.h
