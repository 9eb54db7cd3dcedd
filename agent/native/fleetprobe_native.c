/*
 * fleetprobe_native: the few system calls Node.js does not expose.
 *
 * 1. The receive half of the ICMP engine.
 * raw-socket creates, configures, polls and sends on the raw ICMP sockets, but it reads
 * with recvfrom, which drops ancillary data. This addon reads the same sockets with
 * recvmsg to get the kernel's receive timestamp (SO_TIMESTAMPNS) and the IPv6 hop limit
 * (IPV6_RECVHOPLIMIT), so that RTTs do not include the time the process took to wake up.
 *
 * 2. The kernel's NTP status (adjtimex, read-only): whether the clock is synchronized.
 *
 * 3. sd_notify: a datagram to $NOTIFY_SOCKET from this very process (so the unit needs
 *    only NotifyAccess=main), without linking libsystemd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <unistd.h>
#include <stddef.h>
#include <time.h>
#include <node_api.h>

#ifndef SO_TIMESTAMPNS_NEW
#define SO_TIMESTAMPNS_NEW 64
#endif
#ifndef SO_TIMESTAMPNS_OLD
#define SO_TIMESTAMPNS_OLD 35
#endif

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "fleetprobe_native: N-API call failed");    \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "fleetprobe_native: missing arguments");
    return 0;
  }
  return 1;
}

static int get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  if (napi_get_buffer_info(env, v, data, len) != napi_ok) {
    napi_throw_type_error(env, NULL, "fleetprobe_native: expected a Buffer");
    return 0;
  }
  return 1;
}

static int get_f64(napi_env env, napi_value v, double **data, size_t need) {
  napi_typedarray_type type;
  size_t len;
  void *raw;
  if (napi_get_typedarray_info(env, v, &type, &len, &raw, NULL, NULL) != napi_ok || type != napi_float64_array || len < need) {
    napi_throw_type_error(env, NULL, "fleetprobe_native: expected a Float64Array");
    return 0;
  }
  *data = raw;
  return 1;
}

/* rawIcmpSockets(): [[fd, family], ...] for this process's raw ICMP/ICMPv6 sockets. */
static napi_value raw_icmp_sockets(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value list;
  uint32_t n = 0;
  CHECK(napi_create_array(env, &list));
  for (int fd = 0; fd < 4096; fd++) {
    int type, domain, proto;
    socklen_t l = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_RAW) continue;
    l = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0) continue;
    l = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) != 0) continue;
    int family = (domain == AF_INET && proto == IPPROTO_ICMP) ? 4 : (domain == AF_INET6 && proto == IPPROTO_ICMPV6) ? 6 : 0;
    if (family == 0) continue;
    napi_value pair, a, b;
    CHECK(napi_create_array_with_length(env, 2, &pair));
    CHECK(napi_create_int32(env, fd, &a));
    CHECK(napi_create_int32(env, family, &b));
    CHECK(napi_set_element(env, pair, 0, a));
    CHECK(napi_set_element(env, pair, 1, b));
    CHECK(napi_set_element(env, list, n++, pair));
  }
  return list;
}

/* enable(fd, family): turn on kernel receive timestamps (and hop limits for IPv6). */
static napi_value enable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, family;
  if (!get_args(env, info, 2, argv)) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &family));
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) return throw_errno(env, "SO_TIMESTAMPNS", errno);
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) != 0) return throw_errno(env, "IPV6_RECVHOPLIMIT", errno);
  return NULL;
}

/* realtime(out): out[0] = seconds, out[1] = nanoseconds of CLOCK_REALTIME (the timestamps' clock). */
static napi_value realtime(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double *out;
  struct timespec ts;
  if (!get_args(env, info, 1, argv) || !get_f64(env, argv[0], &out, 2)) return NULL;
  clock_gettime(CLOCK_REALTIME, &ts);
  out[0] = (double)ts.tv_sec;
  out[1] = (double)ts.tv_nsec;
  return NULL;
}

/*
 * recv(fd, buf, src, out): one non-blocking recvmsg. Returns the byte count, or -1 when
 * nothing is queued. src (16 bytes) gets the source address; out gets
 * [family, hop limit or -1, rx seconds, rx nanoseconds] (seconds -1 without a timestamp).
 */
static napi_value recv_one(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  int32_t fd;
  void *buf, *src;
  size_t len, srclen;
  double *out;
  if (!get_args(env, info, 4, argv)) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  if (!get_buffer(env, argv[1], &buf, &len) || !get_buffer(env, argv[2], &src, &srclen) || !get_f64(env, argv[3], &out, 4)) return NULL;
  if (srclen < 16) {
    napi_throw_type_error(env, NULL, "fleetprobe_native: source buffer needs 16 bytes");
    return NULL;
  }
  struct sockaddr_storage from;
  char control[256];
  struct iovec iov = { .iov_base = buf, .iov_len = len };
  struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control, .msg_controllen = sizeof control };
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CHECK(napi_create_int32(env, -1, &result));
      return result;
    }
    return throw_errno(env, "recvmsg", errno);
  }
  out[1] = -1;
  out[2] = -1;
  out[3] = 0;
  if (from.ss_family == AF_INET6) {
    out[0] = 6;
    memcpy(src, &((struct sockaddr_in6 *)&from)->sin6_addr, 16);
  } else {
    out[0] = 4;
    memcpy(src, &((struct sockaddr_in *)&from)->sin_addr, 4);
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && (c->cmsg_type == SO_TIMESTAMPNS_OLD || c->cmsg_type == SO_TIMESTAMPNS_NEW)) {
      /* 32-bit ABIs may deliver either layout: tell them apart by size. */
      size_t dlen = c->cmsg_len - CMSG_LEN(0);
      if (dlen >= 16) {
        int64_t t[2];
        memcpy(t, CMSG_DATA(c), sizeof t);
        out[2] = (double)t[0];
        out[3] = (double)t[1];
      } else if (dlen >= 8) {
        int32_t t[2];
        memcpy(t, CMSG_DATA(c), sizeof t);
        out[2] = (double)t[0];
        out[3] = (double)t[1];
      }
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      int hop;
      memcpy(&hop, CMSG_DATA(c), sizeof hop);
      out[1] = hop;
    }
  }
  CHECK(napi_create_int32(env, (int32_t)n, &result));
  return result;
}

/*
 * ntpSynced(): the test timedatectl uses. The kernel clears STA_UNSYNC once an NTP client
 * (systemd-timesyncd, chrony, ntpd) disciplines the clock, and maxerror stays below 16 s.
 * modes = 0 only reads, so no privilege is needed.
 */
static napi_value ntp_synced(napi_env env, napi_callback_info info) {
  (void)info;
  struct timex tx;
  memset(&tx, 0, sizeof tx);
  int state = adjtimex(&tx);
  napi_value result;
  bool synced = state >= 0 && state != TIME_ERROR && !(tx.status & STA_UNSYNC) && tx.maxerror < 16000000;
  CHECK(napi_get_boolean(env, synced, &result));
  return result;
}

/* notify(socketPath, message): one AF_UNIX datagram; '@' names an abstract socket. */
static napi_value notify(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char msg[4096];
  size_t plen, mlen;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &plen) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &mlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "fleetprobe_native: notify(path, message) takes two strings");
    return NULL;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (plen == 0 || plen >= sizeof sa.sun_path) {
    napi_throw_range_error(env, NULL, "fleetprobe_native: bad NOTIFY_SOCKET path");
    return NULL;
  }
  memcpy(sa.sun_path, path, plen);
  if (path[0] == '@') sa.sun_path[0] = 0;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "notify socket", errno);
  ssize_t n = sendto(fd, msg, mlen, MSG_NOSIGNAL, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen));
  int err = errno;
  close(fd);
  if (n < 0) return throw_errno(env, "notify sendto", err);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "rawIcmpSockets", NULL, raw_icmp_sockets, NULL, NULL, NULL, napi_enumerable, NULL },
    { "enable", NULL, enable, NULL, NULL, NULL, napi_enumerable, NULL },
    { "realtime", NULL, realtime, NULL, NULL, NULL, napi_enumerable, NULL },
    { "recv", NULL, recv_one, NULL, NULL, NULL, napi_enumerable, NULL },
    { "ntpSynced", NULL, ntp_synced, NULL, NULL, NULL, napi_enumerable, NULL },
    { "notify", NULL, notify, NULL, NULL, NULL, napi_enumerable, NULL },
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
