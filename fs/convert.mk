# unionfs-convert build fragment (filled by the converter implementation)
