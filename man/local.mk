dist_man_MANS += man/unionfs.8 man/mount.unionfs.8 man/nsnet.8 man/cgfreeze.8 man/unionfs-convert.8 man/unionfsctl.8
