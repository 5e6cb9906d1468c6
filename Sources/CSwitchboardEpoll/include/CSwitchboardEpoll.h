// The Linux system calls the epoll transport uses, which Glibc's Swift module leaves out.
#ifndef C_SWITCHBOARD_EPOLL_H
#define C_SWITCHBOARD_EPOLL_H

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/ioctl.h>

// GNU extensions, which the system headers declare only under _GNU_SOURCE (Glibc's module is built without).
static inline int switchboard_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    extern int accept4(int, struct sockaddr *, socklen_t *, int);
    return accept4(fd, address, length, flags);
}

// Bytes the kernel has received on a socket and nobody has read yet (FIONREAD is a macro Swift cannot see).
static inline int switchboard_unread_bytes(int fd) {
    int count = 0;
    return ioctl(fd, FIONREAD, &count) == 0 ? count : 0;
}

static inline int switchboard_pthread_setname_np(pthread_t thread, const char *name) {
    extern int pthread_setname_np(pthread_t, const char *);
    return pthread_setname_np(thread, name);
}
#endif

#endif
