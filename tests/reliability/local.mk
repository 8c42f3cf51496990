# reliability suite build fragment (make stress, make check-valgrind)
