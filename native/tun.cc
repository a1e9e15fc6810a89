// sstpd_tun: the few things Node cannot do for a TUN device.
//
//   open(template, offload)           -> { fd, name, offload }  /dev/net/tun + TUNSETIFF (IFF_TUN |
//                                        IFF_NO_PI, plus IFF_VNET_HDR + TUNSETOFFLOAD when asked and
//                                        the kernel takes it)
//   configure(name, {local?, peer?, mtu, up, txqueuelen?, linkUp?, fresh?}) the link (MTU, queue,
//                                        up) as one RTM_NEWLINK; the addresses as one RTM_NEWADDR
//                                        when `fresh` (no IPv4 address yet), else SIOCSIF* ioctls
//   addAddress6(name, addr16, prefixLen)                 SIOCSIFADDR on an AF_INET6 socket (in6_ifreq)
//   route6(name, add, prefix16, prefixLen)               SIOCADDRT / SIOCDELRT (in6_rtmsg) via the device
//   resetAsync(name, done)                               link down, every IPv4 address removed (interface
//                                        cache), on the libuv pool
//   write(fd, buf, offset, length)    -> bytes | -1     one non-blocking write(); -1 = queue full
//   writeBatch(fd, buf, offsets, lengths, count, offload, result)  many packets; with offload,
//                                        consecutive TCP segments go as one GRO super-packet
//   new TunPoller(fd, onPackets, onError, offload)      uv_poll on the fd, batched reads; drain()
//                                        discards what the kernel still queues (interface cache)
//   segment(packet, vnetHdr, mtu), coalesce(packets)    the offload code, for tests only
//   tuneTcp(fd, {notSentLowat?, rcvBuf?}) -> both     TCP_NOTSENT_LOWAT and SO_RCVBUF on a TCP socket
//                                        (Node has no setsockopt for TCP): set what is given, read back
//
// Why native: Node classes a TUN fd as a FILE, so net.Socket({fd}) refuses it, and fs.read parks a
// libuv pool thread per blocked read. Here the fd is watched by the event loop itself.
//
// Read path layout. All pollers of one thread share a single slab (they run on one loop and the
// JS handler is called synchronously, so no two batches are ever alive at once):
//
//   slab: [8 headroom][packet 0][pad to 8][8 headroom][packet 1][pad] ...
//   offsets[i] = start of packet i (always a multiple of 8, and >= 8), lengths[i] = its size.
//
// The 8 bytes before each packet belong to the handler: SSTP header (4) + PPP FF 03 + protocol (4)
// can be written there in place. The slab, offsets and lengths are reused for the next batch, so the
// handler must consume or copy the packets before it returns.
//
// Offload (IFF_VNET_HDR): each read returns a virtio_net_hdr and a packet of up to 64 KB, which
// goes to a shared read buffer and is cut into session-MTU packets laid out in the slab as above
// (offload.cc). A batch then ends once it holds BATCH packets or the slab cannot take one more
// super-packet; it may exceed BATCH by the segments of its last read.

#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

#include "errno_error.h"
#include "listen.h"
#include "offload.h"

// Newer than some installed headers (Linux 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace {

constexpr uint32_t kHeadroom = 8;
// One SSTP packet is at most 4095 bytes, so no IP packet we forward exceeds this.
constexpr uint32_t kMaxPacket = 4096;
constexpr uint32_t kBatch = 64;
// One byte more than we accept: the kernel silently cuts a packet to the read size, so a read that
// fills this buffer was longer than kMaxPacket.
constexpr size_t kReadSize = kMaxPacket + 1;
constexpr size_t kSlabSize = kBatch * (kHeadroom + kMaxPacket + 8);

// Offload: one read is a virtio header plus an IP packet of up to 64 KB (one byte more to see
// truncation), and the slab keeps room for the worst-case segments of one such read.
constexpr size_t kVnetHdr = sizeof(offload::VnetHdr);
constexpr size_t kVnetReadSize = kVnetHdr + 65535 + 40 + 1;
constexpr size_t kSegmentReserve =
    65535 + 40 + offload::kMaxSegments * (kHeadroom + 7 + offload::kMaxHeader);
constexpr size_t kSlabCapacity = kSlabSize + kSegmentReserve;
constexpr uint32_t kIndexCapacity = kBatch + offload::kMaxSegments;

inline size_t Align8(size_t n) { return (n + 7) & ~static_cast<size_t>(7); }

// Per-thread state shared by every poller: the read slab and the batch index arrays.
struct Shared {
  Napi::Reference<Napi::Buffer<uint8_t>> slab;
  Napi::Reference<Napi::Uint32Array> offsets;
  Napi::Reference<Napi::Uint32Array> lengths;
  uint8_t* slabData = nullptr;
  uint32_t* offsetData = nullptr;
  uint32_t* lengthData = nullptr;
  std::vector<uint8_t> readBuf = std::vector<uint8_t>(kVnetReadSize);
  // Set once TUNSETOFFLOAD failed: later sessions do not try again.
  bool offloadRefused = false;
};

bool ReadIfName(Napi::Env env, const Napi::Value& v, char (&out)[IFNAMSIZ], const char* what) {
  if (!v.IsString()) {
    Napi::TypeError::New(env, std::string(what) + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty() || s.size() >= IFNAMSIZ || s.find('/') != std::string::npos) {
    Napi::TypeError::New(env, std::string(what) + " must be 1-15 characters without '/'")
        .ThrowAsJavaScriptException();
    return false;
  }
  std::memset(out, 0, IFNAMSIZ);
  std::memcpy(out, s.data(), s.size());
  return true;
}

// One TUNSETIFF; the fd, or -1 with the error thrown.
int OpenDevice(Napi::Env env, struct ifreq* ifr) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open", "/dev/net/tun").ThrowAsJavaScriptException();
    return -1;
  }
  if (::ioctl(fd, TUNSETIFF, ifr) < 0) {
    int err = errno;
    ::close(fd);
    ErrnoError(env, err, "ioctl(TUNSETIFF)", ifr->ifr_name).ThrowAsJavaScriptException();
    return -1;
  }
  return fd;
}

// Turns on checksum and segmentation offload (TSO; USO where the kernel has it, 6.2+). False when
// the kernel takes none of it.
// No TUNSETVNETHDRSZ: TUNSETIFF with IFF_VNET_HDR starts at sizeof(struct virtio_net_hdr), our
// kVnetHdr, and every TUN ioctl takes the kernel's global RTNL lock.
bool EnableOffload(int fd) {
  static_assert(kVnetHdr == 10, "the kernel's default vnet header size");
  unsigned tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
  if (::ioctl(fd, TUNSETOFFLOAD, tcp | TUN_F_USO4 | TUN_F_USO6) == 0) return true;
  return ::ioctl(fd, TUNSETOFFLOAD, tcp) == 0;
}

// open(template, offload) -> { fd, name, offload }. The device is not persistent: closing fd deletes
// it. Without offload support the device is made again the plain way (the old kernel pays that
// once: later opens do not try).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Shared* s = env.GetInstanceData<Shared>();
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  if (!ReadIfName(env, info[0], ifr.ifr_name, "name template")) return env.Undefined();
  char tmpl[IFNAMSIZ];
  std::memcpy(tmpl, ifr.ifr_name, IFNAMSIZ);
  bool offload = info.Length() > 1 && info[1].ToBoolean().Value() && !s->offloadRefused;
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
  int fd = OpenDevice(env, &ifr);
  if (fd < 0) return env.Undefined();
  if (offload && !EnableOffload(fd)) {
    s->offloadRefused = true;
    offload = false;
    ::close(fd);
    std::memset(&ifr, 0, sizeof ifr);
    std::memcpy(ifr.ifr_name, tmpl, IFNAMSIZ);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    fd = OpenDevice(env, &ifr);
    if (fd < 0) return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  out.Set("offload", Napi::Boolean::New(env, offload));
  return out;
}

bool ReadIPv4(Napi::Env env, const Napi::Object& o, const char* key, struct sockaddr_in* out) {
  Napi::Value v = o.Get(key);
  std::memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  if (!v.IsString() || ::inet_pton(AF_INET, v.As<Napi::String>().Utf8Value().c_str(),
                                   &out->sin_addr) != 1) {
    Napi::TypeError::New(env, std::string(key) + " must be a dotted IPv4 address")
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// One SIOCSIF* call; on failure throws and returns false.
bool IfIoctl(Napi::Env env, int sock, unsigned long req, const char* reqName, struct ifreq* ifr) {
  if (::ioctl(sock, req, ifr) == 0) return true;
  ErrnoError(env, errno, reqName, ifr->ifr_name).ThrowAsJavaScriptException();
  return false;
}

void SetAddr(struct ifreq* ifr, const struct sockaddr_in& a, bool dst) {
  std::memcpy(dst ? &ifr->ifr_dstaddr : &ifr->ifr_addr, &a, sizeof a);
}

// One rtnetlink request: a header, the family header, up to a few 4-byte attributes.
struct NlRequest {
  struct nlmsghdr h;
  char body[NLMSG_ALIGN(sizeof(struct ifinfomsg)) + NLMSG_ALIGN(sizeof(struct ifaddrmsg)) + 4 * RTA_SPACE(4)];

  NlRequest(uint16_t type, uint16_t flags, const void* family, size_t familyLen) {
    std::memset(this, 0, sizeof *this);
    h.nlmsg_len = NLMSG_LENGTH(familyLen);
    h.nlmsg_type = type;
    h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    std::memcpy(NLMSG_DATA(&h), family, familyLen);
  }

  void Add32(unsigned short type, const void* value) {
    auto* rta = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(&h) + NLMSG_ALIGN(h.nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = RTA_LENGTH(4);
    std::memcpy(RTA_DATA(rta), value, 4);
    h.nlmsg_len = NLMSG_ALIGN(h.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
};

// Sends one request and reads its answer: the ACK (an nlmsgerr with error 0) or the error, with
// the request riding along. 0 or the errno.
int NlTransact(const NlRequest& req) {
  int nl = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl < 0) return errno;
  struct sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  int err = 0;
  if (::sendto(nl, &req, req.h.nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel) < 0) {
    err = errno;
  } else {
    char buf[NLMSG_SPACE(sizeof(struct nlmsgerr)) + sizeof req];
    ssize_t n;
    do n = ::recv(nl, buf, sizeof buf, 0); while (n < 0 && errno == EINTR);
    auto* h = reinterpret_cast<struct nlmsghdr*>(buf);
    if (n < 0) err = errno;
    else if (!NLMSG_OK(h, static_cast<size_t>(n)) || h->nlmsg_type != NLMSG_ERROR) err = EPROTO;
    else err = -static_cast<struct nlmsgerr*>(NLMSG_DATA(h))->error;
  }
  ::close(nl);
  return err;
}

// The rtnetlink requests below each take the kernel's global RTNL lock once, where the ioctls they
// replace took it once per ioctl (each waiting behind any other interface change on the host).

// `local peer peer/32` on an interface with no IPv4 address yet, as one RTM_NEWADDR: the same
// address and peer route as SIOCSIFADDR + SIOCSIFDSTADDR + SIOCSIFNETMASK, without the address
// being added and then replaced twice.
int NewAddress4(int ifindex, const struct sockaddr_in& local, const struct sockaddr_in& peer) {
  struct ifaddrmsg a;
  std::memset(&a, 0, sizeof a);
  a.ifa_family = AF_INET;
  a.ifa_prefixlen = 32;
  a.ifa_index = static_cast<uint32_t>(ifindex);
  NlRequest req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &a, sizeof a);
  req.Add32(IFA_LOCAL, &local.sin_addr);
  req.Add32(IFA_ADDRESS, &peer.sin_addr);
  return NlTransact(req);
}

// MTU, queue length (when qlen > 0) and IFF_UP as one RTM_NEWLINK: the kernel applies them in the
// order of SIOCSIFMTU, SIOCSIFTXQLEN, SIOCSIFFLAGS (do_setlink), through the same functions.
int SetLink(int ifindex, int mtu, int qlen, bool up) {
  struct ifinfomsg i;
  std::memset(&i, 0, sizeof i);
  i.ifi_family = AF_UNSPEC;
  i.ifi_index = ifindex;
  i.ifi_flags = up ? IFF_UP : 0;
  i.ifi_change = IFF_UP;
  NlRequest req(RTM_NEWLINK, 0, &i, sizeof i);
  uint32_t m = static_cast<uint32_t>(mtu);
  req.Add32(IFLA_MTU, &m);
  if (qlen > 0) {
    uint32_t q = static_cast<uint32_t>(qlen);
    req.Add32(IFLA_TXQLEN, &q);
  }
  return NlTransact(req);
}

// configure(name, {local, peer, mtu, up}). Point-to-point: setting the destination makes the
// kernel add the peer/32 route once the interface is up.
Napi::Value Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  if (!ReadIfName(env, info[0], ifr.ifr_name, "interface name")) return env.Undefined();
  if (!info[1].IsObject()) {
    Napi::TypeError::New(env, "options must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  struct sockaddr_in local, peer, mask;
  // IPv4 is optional (an IPv6-only session): both addresses or neither.
  bool ipv4 = !o.Get("local").IsUndefined() || !o.Get("peer").IsUndefined();
  if (ipv4 && (!ReadIPv4(env, o, "local", &local) || !ReadIPv4(env, o, "peer", &peer))) return env.Undefined();
  // The link part (MTU, queue, flags) is skipped when the link is already up at this MTU: each of
  // those ioctls takes the kernel's global RTNL lock, which other interfaces' changes hold.
  bool link = !o.Get("linkUp").ToBoolean().Value();
  Napi::Value mtuV = o.Get("mtu");
  if (link && !mtuV.IsNumber()) {
    Napi::TypeError::New(env, "mtu must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int mtu = link ? mtuV.As<Napi::Number>().Int32Value() : 0;
  bool up = o.Get("up").ToBoolean().Value();
  // Optional: the kernel's queue in front of our reader (TUN's default is 500 packets).
  Napi::Value qlenV = o.Get("txqueuelen");
  int qlen = -1;
  if (!qlenV.IsUndefined()) {
    if (!qlenV.IsNumber() || qlenV.As<Napi::Number>().Int32Value() < 1) {
      Napi::TypeError::New(env, "txqueuelen must be a positive number").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    qlen = qlenV.As<Napi::Number>().Int32Value();
  }
  std::memset(&mask, 0, sizeof mask);
  mask.sin_family = AF_INET;
  mask.sin_addr.s_addr = 0xffffffffu;

  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    ErrnoError(env, errno, "socket", ifr.ifr_name).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool ok = true;
  bool fresh = o.Get("fresh").ToBoolean().Value();
  int ifindex = 0;
  if (fresh || link) {
    ok = IfIoctl(env, sock, SIOCGIFINDEX, "ioctl(SIOCGIFINDEX)", &ifr);
    ifindex = ifr.ifr_ifindex;
  }
  if (ok && ipv4 && fresh) {
    int err = NewAddress4(ifindex, local, peer);
    if (err != 0) {
      ErrnoError(env, err, "netlink(RTM_NEWADDR)", ifr.ifr_name).ThrowAsJavaScriptException();
      ok = false;
    }
  } else if (ipv4) {
    SetAddr(&ifr, local, false);
    ok = ok && IfIoctl(env, sock, SIOCSIFADDR, "ioctl(SIOCSIFADDR)", &ifr);
    SetAddr(&ifr, peer, true);
    ok = ok && IfIoctl(env, sock, SIOCSIFDSTADDR, "ioctl(SIOCSIFDSTADDR)", &ifr);
    std::memcpy(&ifr.ifr_netmask, &mask, sizeof mask);
    ok = ok && IfIoctl(env, sock, SIOCSIFNETMASK, "ioctl(SIOCSIFNETMASK)", &ifr);
  }
  if (ok && link) {
    int err = SetLink(ifindex, mtu, qlen, up);
    if (err != 0) {
      ErrnoError(env, err, "netlink(RTM_NEWLINK)", ifr.ifr_name).ThrowAsJavaScriptException();
      ok = false;
    }
  }
  ::close(sock);
  return env.Undefined();
}

// A 16-byte IPv6 address argument; throws on anything else.
bool ReadIPv6(Napi::Env env, const Napi::Value& v, struct in6_addr* out, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      v.As<Napi::Uint8Array>().ByteLength() != 16) {
    Napi::TypeError::New(env, std::string(what) + " must be a 16-byte Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  std::memcpy(out, v.As<Napi::Uint8Array>().Data(), 16);
  return true;
}

bool ReadPrefixLen(Napi::Env env, const Napi::Value& v, uint32_t* out) {
  if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0 || v.As<Napi::Number>().Int32Value() > 128) {
    Napi::TypeError::New(env, "prefix length must be 0..128").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(v.As<Napi::Number>().Int32Value());
  return true;
}

// An AF_INET6 datagram socket plus the interface index of `name`; -1 (exception set) on failure.
int Inet6Socket(Napi::Env env, const char* name, int* ifindex) {
  int sock = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    ErrnoError(env, errno, "socket(AF_INET6)", name).ThrowAsJavaScriptException();
    return -1;
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (::ioctl(sock, SIOCGIFINDEX, &ifr) < 0) {
    int err = errno;
    ::close(sock);
    ErrnoError(env, err, "ioctl(SIOCGIFINDEX)", name).ThrowAsJavaScriptException();
    return -1;
  }
  *ifindex = ifr.ifr_ifindex;
  return sock;
}

// The kernel's struct in6_ifreq (linux/ipv6.h clashes with netinet/in.h, so it is spelled out).
struct In6Ifreq {
  struct in6_addr ifr6_addr;
  uint32_t ifr6_prefixlen;
  int ifr6_ifindex;
};

// addAddress6(name, addr16, prefixLen): an IPv6 address on the interface (no DAD on a NOARP TUN).
Napi::Value AddAddress6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char name[IFNAMSIZ];
  In6Ifreq req;
  std::memset(&req, 0, sizeof req);
  uint32_t plen = 0;
  if (!ReadIfName(env, info[0], name, "interface name") || !ReadIPv6(env, info[1], &req.ifr6_addr, "address") ||
      !ReadPrefixLen(env, info[2], &plen)) {
    return env.Undefined();
  }
  int ifindex = 0;
  int sock = Inet6Socket(env, name, &ifindex);
  if (sock < 0) return env.Undefined();
  req.ifr6_prefixlen = plen;
  req.ifr6_ifindex = ifindex;
  if (::ioctl(sock, SIOCSIFADDR, &req) < 0 && errno != EEXIST) {
    ErrnoError(env, errno, "ioctl(SIOCSIFADDR, inet6)", name).ThrowAsJavaScriptException();
  }
  ::close(sock);
  return env.Undefined();
}

// route6(name, add, prefix16, prefixLen): a route for the prefix through the interface, no gateway.
Napi::Value Route6(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char name[IFNAMSIZ];
  struct in6_rtmsg rt;
  std::memset(&rt, 0, sizeof rt);
  uint32_t plen = 0;
  if (!ReadIfName(env, info[0], name, "interface name") || !ReadIPv6(env, info[2], &rt.rtmsg_dst, "prefix") ||
      !ReadPrefixLen(env, info[3], &plen)) {
    return env.Undefined();
  }
  bool add = info[1].ToBoolean().Value();
  int ifindex = 0;
  int sock = Inet6Socket(env, name, &ifindex);
  if (sock < 0) return env.Undefined();
  rt.rtmsg_dst_len = static_cast<uint16_t>(plen);
  rt.rtmsg_flags = RTF_UP;
  rt.rtmsg_metric = 1;
  rt.rtmsg_ifindex = ifindex;
  unsigned long req = add ? SIOCADDRT : SIOCDELRT;
  if (::ioctl(sock, req, &rt) < 0) {
    int err = errno;
    // Adding an existing route or deleting a missing one leaves things as asked.
    if (!((add && err == EEXIST) || (!add && err == ESRCH))) {
      ErrnoError(env, err, add ? "ioctl(SIOCADDRT, inet6)" : "ioctl(SIOCDELRT, inet6)", name).ThrowAsJavaScriptException();
    }
  }
  ::close(sock);
  return env.Undefined();
}

// The interface goes down (the kernel then drops its IPv6 addresses and every route through it)
// and loses its IPv4 addresses, so a cached interface keeps nothing of its last session.
// SIOCSIFADDR 0.0.0.0 deletes the address labelled `name` without adding one (ifconfig's way); it
// repeats while SIOCGIFADDR still finds one (bounded: an address is never re-added here).
// 0, or the errno with the failed call in `*what`. No JS: it also runs on the libuv pool.
int ResetLink(const char (&name)[IFNAMSIZ], const char** what) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    *what = "socket";
    return errno;
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name, IFNAMSIZ);
  int err = 0;
  if (::ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    err = errno;
    *what = "ioctl(SIOCGIFFLAGS)";
  } else if ((ifr.ifr_flags & IFF_UP) != 0) {
    ifr.ifr_flags &= ~IFF_UP;
    if (::ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
      err = errno;
      *what = "ioctl(SIOCSIFFLAGS)";
    }
  }
  for (int i = 0; err == 0 && i < 256; i++) {
    std::memset(&ifr, 0, sizeof ifr);
    std::memcpy(ifr.ifr_name, name, IFNAMSIZ);
    ifr.ifr_addr.sa_family = AF_INET;
    if (::ioctl(sock, SIOCGIFADDR, &ifr) < 0) {
      if (errno != EADDRNOTAVAIL) {
        err = errno;
        *what = "ioctl(SIOCGIFADDR)";
      }
      break;
    }
    struct sockaddr_in none;
    std::memset(&none, 0, sizeof none);
    none.sin_family = AF_INET;
    SetAddr(&ifr, none, false);
    if (::ioctl(sock, SIOCSIFADDR, &ifr) < 0) {
      err = errno;
      *what = "ioctl(SIOCSIFADDR, 0.0.0.0)";
    }
  }
  ::close(sock);
  return err;
}

// resetAsync(name, done): ResetLink on the libuv pool, so the event loop does not wait for the
// kernel's RTNL lock; done(err | null).
class ResetWorker : public Napi::AsyncWorker {
 public:
  ResetWorker(Napi::Function done, const char (&name)[IFNAMSIZ]) : Napi::AsyncWorker(done, "sstpd:TunReset") {
    std::memcpy(name_, name, IFNAMSIZ);
  }
  void Execute() override { err_ = ResetLink(name_, &what_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) Callback().Call({ErrnoError(env, err_, what_, name_).Value()});
    else Callback().Call({env.Null()});
  }

 private:
  char name_[IFNAMSIZ];
  int err_ = 0;
  const char* what_ = "";
};

Napi::Value ResetAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char name[IFNAMSIZ];
  if (!ReadIfName(env, info[0], name, "interface name")) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "resetAsync(name, done)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  (new ResetWorker(info[1].As<Napi::Function>(), name))->Queue();
  return env.Undefined();
}

// Reads the (fd, buffer, offset, length) arguments of write(); throws on bad ones.
bool WriteArgs(const Napi::CallbackInfo& info, int* fd, const uint8_t** data, size_t* len) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    Napi::TypeError::New(env, "write(fd, buffer, offset, length)").ThrowAsJavaScriptException();
    return false;
  }
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "buffer must be a Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Uint8Array buf = ta.As<Napi::Uint8Array>();
  int64_t off = info[2].As<Napi::Number>().Int64Value();
  int64_t n = info[3].As<Napi::Number>().Int64Value();
  if (off < 0 || n < 0 || static_cast<uint64_t>(off + n) > buf.ByteLength()) {
    Napi::RangeError::New(env, "offset/length outside the buffer").ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[0].As<Napi::Number>().Int32Value();
  *data = buf.Data() + off;
  *len = static_cast<size_t>(n);
  return true;
}

// tuneTcp(fd, {notSentLowat?, rcvBuf?}) -> {notSentLowat, rcvBuf}: sets what is given on a TCP
// socket, then reads both back. Why: every packet of a session shares one TCP stream, so a tunnelled
// ping waits behind every byte queued ahead of it, and the kernel autotunes both buffers to MBs.
// TCP_NOTSENT_LOWAT: the socket reports writable only while its unsent bytes are below the value.
// SO_RCVBUF: a fixed receive buffer (no autotuning), which caps the window the peer may fill.
// Node has no setsockopt for TCP, hence this.
bool SetIntOpt(Napi::Env env, int fd, int level, int name, const char* what, Napi::Value v) {
  if (v.IsUndefined()) return true;
  double want = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(want >= 1 && want <= 0x7fffffff)) {
    Napi::TypeError::New(env, std::string("tuneTcp: ") + what + " must be in 1..2^31-1").ThrowAsJavaScriptException();
    return false;
  }
  int i = static_cast<int>(want);
  if (::setsockopt(fd, level, name, &i, sizeof i) == 0) return true;
  ErrnoError(env, errno, (std::string("setsockopt(") + what + ")").c_str(), "socket").ThrowAsJavaScriptException();
  return false;
}

bool GetIntOpt(Napi::Env env, int fd, int level, int name, const char* what, unsigned int* out) {
  int cur = 0;
  socklen_t len = sizeof cur;
  if (::getsockopt(fd, level, name, &cur, &len) == 0) {
    *out = static_cast<unsigned int>(cur);
    return true;
  }
  ErrnoError(env, errno, (std::string("getsockopt(") + what + ")").c_str(), "socket").ThrowAsJavaScriptException();
  return false;
}

Napi::Value TuneTcp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsObject()) {
    Napi::TypeError::New(env, "tuneTcp(fd, {notSentLowat?, rcvBuf?})").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Object o = info[1].As<Napi::Object>();
  if (!SetIntOpt(env, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", o.Get("notSentLowat"))) return env.Undefined();
  if (!SetIntOpt(env, fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", o.Get("rcvBuf"))) return env.Undefined();
  unsigned int lowat = 0, rcvbuf = 0;
  if (!GetIntOpt(env, fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", &lowat)) return env.Undefined();
  if (!GetIntOpt(env, fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", &rcvbuf)) return env.Undefined();
  Napi::Object r = Napi::Object::New(env);
  // NOTSENT_LOWAT reads 0 when the socket has none (net.ipv4.tcp_notsent_lowat applies); SO_RCVBUF
  // reads as twice what was set (the kernel's allowance for its overhead).
  r.Set("notSentLowat", Napi::Number::New(env, static_cast<double>(lowat)));
  r.Set("rcvBuf", Napi::Number::New(env, static_cast<double>(rcvbuf)));
  return r;
}

// write(fd, buf, offset, length) -> bytes written, -1 when the device queue is full (drop it), or
// -2 when the kernel refuses this one packet (EINVAL: not an IP packet it can take): a bad packet,
// not a bad device, so it is dropped and counted rather than ending the session.
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  const uint8_t* data;
  size_t len;
  if (!WriteArgs(info, &fd, &data, &len)) return env.Undefined();
  ssize_t n;
  do n = ::write(fd, data, len); while (n < 0 && errno == EINTR);
  if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return Napi::Number::New(env, -1);
  if (errno == EINVAL) return Napi::Number::New(env, -2);
  ErrnoError(env, errno, "write", "tun").ThrowAsJavaScriptException();
  return env.Undefined();
}

// One writev; true when the kernel took it, false when its queue was full. Throws (and returns
// false) on other errors.
bool WriteVec(Napi::Env env, int fd, const struct iovec* iov, int n, bool* failed) {
  ssize_t r;
  do r = ::writev(fd, iov, n); while (r < 0 && errno == EINTR);
  if (r >= 0) return true;
  // A full queue drops this write; so does EINVAL, the kernel refusing this one packet (group).
  if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINVAL) {
    ErrnoError(env, errno, "writev", "tun").ThrowAsJavaScriptException();
    *failed = true;
  }
  return false;
}

// Counts of one writeBatch(), written into the caller's Uint32Array.
enum BatchResult { kPacketsWritten, kPacketsDropped, kWrites, kBytesWritten, kBatchResultSize };

// Writes one coalesced group: the rewritten head, then each packet's payload (no copies).
bool WriteGroup(Napi::Env env, int fd, const offload::Group& g, const uint8_t* base, const uint32_t* offs,
                const uint32_t* lens, bool* failed) {
  struct iovec iov[2 + kBatch];
  iov[0] = {const_cast<offload::VnetHdr*>(&g.hdr), kVnetHdr};
  if (g.count == 1) {
    iov[1] = {const_cast<uint8_t*>(base + offs[g.first]), lens[g.first]};
    return WriteVec(env, fd, iov, 2, failed);
  }
  iov[1] = {const_cast<uint8_t*>(g.head), g.headLen};
  for (size_t k = 0; k < g.count; k++) {
    size_t i = g.first + k;
    iov[2 + k] = {const_cast<uint8_t*>(base + offs[i] + g.headLen), lens[i] - g.headLen};
  }
  return WriteVec(env, fd, iov, static_cast<int>(2 + g.count), failed);
}

// writeBatch(fd, buf, offsets, lengths, count, offload, result): packet i is buf[offsets[i] ..
// + lengths[i]). With offload (a VNET_HDR device) runs of one TCP flow go as GRO super-packets;
// without, one write() each as before. A full queue drops what it refuses; counts go to result
// [written, dropped, writes, bytes].
Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsNumber() || !info[6].IsTypedArray()) {
    Napi::TypeError::New(env, "writeBatch(fd, buf, offsets, lengths, count, offload, result)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  Napi::Uint32Array offs = info[2].As<Napi::Uint32Array>();
  Napi::Uint32Array lens = info[3].As<Napi::Uint32Array>();
  Napi::Uint32Array result = info[6].As<Napi::Uint32Array>();
  bool vnet = info[5].ToBoolean().Value();
  int64_t count = info[4].As<Napi::Number>().Int64Value();
  if (count < 0 || count > static_cast<int64_t>(kBatch) || static_cast<size_t>(count) > offs.ElementLength() ||
      static_cast<size_t>(count) > lens.ElementLength() || result.ElementLength() < kBatchResultSize) {
    Napi::RangeError::New(env, "writeBatch: count outside the arrays (at most BATCH)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint32_t* off = offs.Data();
  const uint32_t* len = lens.Data();
  for (int64_t i = 0; i < count; i++) {
    if (static_cast<uint64_t>(off[i]) + len[i] > buf.ByteLength() || len[i] == 0) {
      Napi::RangeError::New(env, "writeBatch: packet outside the buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  uint32_t* r = result.Data();
  std::memset(r, 0, kBatchResultSize * sizeof(uint32_t));
  const uint8_t* base = buf.Data();
  bool failed = false;
  auto account = [&](bool ok, size_t packets, size_t bytes) {
    r[ok ? kPacketsWritten : kPacketsDropped] += static_cast<uint32_t>(packets);
    if (ok) {
      r[kWrites]++;
      r[kBytesWritten] += static_cast<uint32_t>(bytes);
    }
  };
  if (!vnet) {
    for (int64_t i = 0; i < count && !failed; i++) {
      struct iovec iov = {const_cast<uint8_t*>(base + off[i]), len[i]};
      account(WriteVec(env, fd, &iov, 1, &failed), 1, len[i]);
    }
    return env.Undefined();
  }
  offload::Coalescer c;
  offload::Group g;
  for (int64_t i = 0; i <= count && !failed; i++) {
    bool ready = i < count ? c.Add(base + off[i], len[i], &g) : c.Finish(&g);
    if (ready) account(WriteGroup(env, fd, g, base, off, len, &failed), g.count, g.totalLen);
  }
  return env.Undefined();
}

// ---- test entry points: the offload code itself, without a device ----------------------------

bool ReadVnetHdr(Napi::Env env, const Napi::Value& v, offload::VnetHdr* h) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      v.As<Napi::Uint8Array>().ByteLength() != kVnetHdr) {
    Napi::TypeError::New(env, "vnetHdr must be a 10-byte Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  std::memcpy(h, v.As<Napi::Uint8Array>().Data(), kVnetHdr);
  return true;
}

class VectorSink : public offload::SegmentSink {
 public:
  uint8_t* Next(size_t len) override {
    out.emplace_back(len);
    return out.back().data();
  }
  std::vector<std::vector<uint8_t>> out;
};

// segment(packet, vnetHdr, mtu) -> Buffer[]; throws with the reason when the packet is refused.
Napi::Value SegmentForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  offload::VnetHdr h;
  if (!info[0].IsTypedArray() || !ReadVnetHdr(env, info[1], &h) || !info[2].IsNumber()) {
    if (!env.IsExceptionPending()) Napi::TypeError::New(env, "segment(packet, vnetHdr, mtu)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array pkt = info[0].As<Napi::Uint8Array>();
  VectorSink sink;
  size_t n = 0;
  offload::SegmentResult res = offload::Segment(pkt.Data(), pkt.ByteLength(), h,
                                                info[2].As<Napi::Number>().Uint32Value(), sink, &n);
  if (res != offload::SegmentResult::kOk) {
    const char* why = res == offload::SegmentResult::kMalformed ? "malformed"
                      : res == offload::SegmentResult::kTooBig  ? "too big"
                                                                 : "too many segments";
    Napi::Error::New(env, std::string("segment: ") + why).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, sink.out[i].data(), sink.out[i].size()));
  }
  return out;
}

// coalesce(packets) -> [{ vnetHdr, packet, count }]: what writeBatch would write, in order.
Napi::Value CoalesceForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) {
    Napi::TypeError::New(env, "coalesce(packets)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array in = info[0].As<Napi::Array>();
  std::vector<Napi::Uint8Array> pkts;
  for (uint32_t i = 0; i < in.Length(); i++) {
    Napi::Value v = in.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::Uint8Array>().ByteLength() == 0) {
      Napi::TypeError::New(env, "packets must be non-empty Uint8Arrays").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    pkts.push_back(v.As<Napi::Uint8Array>());
  }
  Napi::Array out = Napi::Array::New(env);
  offload::Coalescer c;
  offload::Group g;
  for (size_t i = 0; i <= pkts.size(); i++) {
    bool ready = i < pkts.size() ? c.Add(pkts[i].Data(), pkts[i].ByteLength(), &g) : c.Finish(&g);
    if (!ready) continue;
    std::vector<uint8_t> bytes;
    if (g.count == 1) {
      bytes.assign(pkts[g.first].Data(), pkts[g.first].Data() + pkts[g.first].ByteLength());
    } else {
      bytes.assign(g.head, g.head + g.headLen);
      for (size_t k = 0; k < g.count; k++) {
        const Napi::Uint8Array& p = pkts[g.first + k];
        bytes.insert(bytes.end(), p.Data() + g.headLen, p.Data() + p.ByteLength());
      }
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("vnetHdr", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(&g.hdr), kVnetHdr));
    o.Set("packet", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
    o.Set("count", Napi::Number::New(env, static_cast<double>(g.count)));
    out.Set(out.Length(), o);
  }
  return out;
}

// Closes a TUN fd on the libuv pool: the kernel spends ~20 ms per close unregistering the device
// (RCU waits), which must not stall the event loop. Calls `done` once the interface is gone.
class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, int fd) : Napi::AsyncWorker(env, "sstpd:TunClose"), fd_(fd) {}
  CloseWorker(Napi::Function done, int fd) : Napi::AsyncWorker(done, "sstpd:TunClose"), fd_(fd) {}
  void Execute() override { ::close(fd_); }

 private:
  int fd_;
};

// Watches one TUN fd; on readable, reads up to kBatch packets into the shared slab and makes one
// JS call: onPackets(slab, offsets, lengths, count). Owns the fd from construction on.
class TunPoller : public Napi::ObjectWrap<TunPoller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunPoller",
                       {InstanceMethod<&TunPoller::Pause>("pause"),
                        InstanceMethod<&TunPoller::Resume>("resume"),
                        InstanceMethod<&TunPoller::Close>("close"),
                        InstanceMethod<&TunPoller::SetMtu>("setMtu"),
                        InstanceMethod<&TunPoller::Drain>("drain"),
                        InstanceAccessor<&TunPoller::GetClosed>("closed"),
                        InstanceAccessor<&TunPoller::GetTruncated>("truncated"),
                        InstanceAccessor<&TunPoller::GetSuperPackets>("superPackets"),
                        InstanceAccessor<&TunPoller::GetRefused>("refused")});
  }

  explicit TunPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunPoller>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsFunction() || !info[2].IsFunction()) {
      Napi::TypeError::New(env, "new TunPoller(fd, onPackets, onError, offload?)").ThrowAsJavaScriptException();
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    vnet_ = info.Length() > 3 && info[3].ToBoolean().Value();
    onPackets_ = Napi::Persistent(info[1].As<Napi::Function>());
    onError_ = Napi::Persistent(info[2].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    int rc = uv_poll_init(loop, handle_, fd_);
    if (rc != 0) {
      delete handle_;
      handle_ = nullptr;
      Shutdown();  // we own the fd: do not leak it
      ErrnoError(env, -rc, "uv_poll_init", "tun").ThrowAsJavaScriptException();
      return;
    }
    handle_->data = this;
    rc = uv_poll_start(handle_, UV_READABLE, &TunPoller::OnPoll);
    if (rc != 0) {
      Shutdown();
      ErrnoError(env, -rc, "uv_poll_start", "tun").ThrowAsJavaScriptException();
      return;
    }
    polling_ = true;
    context_ = new Napi::AsyncContext(env, "sstpd:TunPoller");
    Ref();  // stay alive while the fd is open, even if JS drops its reference
  }

  ~TunPoller() override { Shutdown(); }

 private:
  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr && polling_) uv_poll_stop(handle_);
    polling_ = false;
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr && !polling_ && !closed_) {
      int rc = uv_poll_start(handle_, UV_READABLE, &TunPoller::OnPoll);
      if (rc != 0) {
        ErrnoError(info.Env(), -rc, "uv_poll_start", "tun").ThrowAsJavaScriptException();
        return info.Env().Undefined();
      }
      polling_ = true;
    }
    return info.Env().Undefined();
  }

  // close(done?): stops reading now; the fd is closed off-loop, then `done()` runs.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) return env.Undefined();
    int fd = fd_;
    fd_ = -1;  // keep Shutdown() from closing it on the loop
    Shutdown();
    Unref();
    CloseWorker* w = info.Length() > 0 && info[0].IsFunction()
                         ? new CloseWorker(info[0].As<Napi::Function>(), fd)
                         : new CloseWorker(env, fd);
    w->Queue();
    return env.Undefined();
  }

  // drain() -> packets discarded: reads until the kernel queue is empty (the interface is down by
  // then, so nothing new arrives), so a cached interface never hands its last session's packets on.
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double n = 0;
    if (!closed_ && fd_ >= 0) {
      Shared* s = env.GetInstanceData<Shared>();
      for (;;) {
        ssize_t r = ::read(fd_, s->readBuf.data(), s->readBuf.size());
        if (r > 0) {
          n++;
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        break;  // EAGAIN: empty (or an error the next read will report)
      }
    }
    return Napi::Number::New(env, n);
  }

  // setMtu(mtu): the session MTU; super-packets are cut to fit it (0: the kernel's gso_size).
  Napi::Value SetMtu(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int64Value() < 0 ||
        info[0].As<Napi::Number>().Int64Value() > static_cast<int64_t>(kMaxPacket)) {
      Napi::RangeError::New(info.Env(), "mtu must be 0..MAX_PACKET").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    mtu_ = info[0].As<Napi::Number>().Uint32Value();
    return info.Env().Undefined();
  }

  Napi::Value GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }
  Napi::Value GetSuperPackets(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(superPackets_));
  }
  Napi::Value GetRefused(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(refused_));
  }
  Napi::Value GetTruncated(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(truncated_));
  }

  // Stops polling, releases the handle (freed by libuv's close callback) and closes the fd if still
  // held (construction failures, finalizer at shutdown: rare enough to do synchronously).
  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    polling_ = false;
    if (handle_ != nullptr) {
      uv_poll_stop(handle_);
      handle_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(handle_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      handle_ = nullptr;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    delete context_;
    context_ = nullptr;
    // The callbacks close over the device and its session: holding them past the close kept every
    // ended session alive (found by the soak run: ~19 KiB retained per session).
    onPackets_.Reset();
    onError_.Reset();
  }

  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<TunPoller*>(h->data);
    if (self != nullptr) self->OnReadable(status);
  }

  // One batch per wake-up: the poll is level-triggered, so a full batch leaves the rest for the
  // next loop turn and other sessions get their share in between.
  void OnReadable(int status) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (status < 0) return Fail(ErrnoError(env, -status, "poll", "tun"));
    Shared* s = env.GetInstanceData<Shared>();
    uint32_t count = 0;
    size_t pos = 0;
    int err = 0;
    if (vnet_) {
      err = ReadOffloaded(s, &count, &pos);
      if (count > 0) Deliver(env, s, count);
      if (err != 0 && !closed_) Fail(ErrnoError(env, err, "read", "tun"));
      return;
    }
    while (count < kBatch && pos + kHeadroom + kReadSize <= kSlabSize) {
      ssize_t n = ::read(fd_, s->slabData + pos + kHeadroom, kReadSize);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
        break;
      }
      if (n == 0) break;
      if (static_cast<size_t>(n) > kMaxPacket) {
        truncated_++;
        continue;
      }
      s->offsetData[count] = static_cast<uint32_t>(pos + kHeadroom);
      s->lengthData[count] = static_cast<uint32_t>(n);
      count++;
      pos = Align8(pos + kHeadroom + static_cast<size_t>(n));
    }
    if (count > 0) Deliver(env, s, count);
    if (err != 0 && !closed_) Fail(ErrnoError(env, err, "read", "tun"));
  }

  // Lays packets out in the slab as the reads do: 8 bytes of headroom, 8-aligned.
  class SlabSink : public offload::SegmentSink {
   public:
    SlabSink(Shared* s, uint32_t* count, size_t* pos) : s_(s), count_(count), pos_(pos) {}
    uint8_t* Next(size_t len) override {
      size_t at = *pos_ + kHeadroom;
      s_->offsetData[*count_] = static_cast<uint32_t>(at);
      s_->lengthData[*count_] = static_cast<uint32_t>(len);
      (*count_)++;
      *pos_ = Align8(at + len);
      return s_->slabData + at;
    }

   private:
    Shared* s_;
    uint32_t* count_;
    size_t* pos_;
  };

  // The offload read loop: virtio header + packet into the read buffer, then segments (or the
  // packet itself) into the slab. Returns a read errno, or 0.
  int ReadOffloaded(Shared* s, uint32_t* count, size_t* pos) {
    SlabSink sink(s, count, pos);
    uint32_t mtu = mtu_ != 0 ? mtu_ : kMaxPacket;
    while (*count < kBatch && *pos + kSegmentReserve <= kSlabCapacity) {
      ssize_t n = ::read(fd_, s->readBuf.data(), kVnetReadSize);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno != EAGAIN && errno != EWOULDBLOCK ? errno : 0;
      }
      if (n == 0) return 0;
      if (static_cast<size_t>(n) <= kVnetHdr || static_cast<size_t>(n) == kVnetReadSize) {
        truncated_++;
        continue;
      }
      offload::VnetHdr h;
      std::memcpy(&h, s->readBuf.data(), kVnetHdr);
      size_t segs = 0;
      offload::SegmentResult r =
          offload::Segment(s->readBuf.data() + kVnetHdr, static_cast<size_t>(n) - kVnetHdr, h, mtu, sink, &segs);
      if (r == offload::SegmentResult::kTooBig) truncated_++;
      else if (r != offload::SegmentResult::kOk) refused_++;
      else if (segs > 1 || h.gso_type != offload::kGsoNone) superPackets_++;
    }
    return 0;
  }

  void Deliver(Napi::Env env, Shared* s, uint32_t count) {
    onPackets_.MakeCallback(Value(),
                            {s->slab.Value(), s->offsets.Value(), s->lengths.Value(),
                             Napi::Number::New(env, count)},
                            *context_);
    RethrowAsUncaught(env);
  }

  // A read or poll error ends polling; the owner decides what to do with the session.
  void Fail(Napi::Error err) {
    Napi::Env env = Env();
    if (handle_ != nullptr && polling_) uv_poll_stop(handle_);
    polling_ = false;
    onError_.MakeCallback(Value(), {err.Value()}, *context_);
    RethrowAsUncaught(env);
  }

  // An exception from a handler has no JS caller to land in: report it as uncaught, like any
  // other event callback would.
  static void RethrowAsUncaught(Napi::Env env) {
    if (!env.IsExceptionPending()) return;
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }

  int fd_ = -1;
  uv_poll_t* handle_ = nullptr;
  Napi::AsyncContext* context_ = nullptr;
  Napi::FunctionReference onPackets_;
  Napi::FunctionReference onError_;
  bool polling_ = false;
  bool closed_ = false;
  bool vnet_ = false;
  uint32_t mtu_ = 0;
  uint64_t truncated_ = 0;
  uint64_t superPackets_ = 0;
  uint64_t refused_ = 0;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* s = new Shared();
  Napi::Buffer<uint8_t> slab = Napi::Buffer<uint8_t>::New(env, kSlabCapacity);
  Napi::Uint32Array offsets = Napi::Uint32Array::New(env, kIndexCapacity);
  Napi::Uint32Array lengths = Napi::Uint32Array::New(env, kIndexCapacity);
  s->slabData = slab.Data();
  s->offsetData = offsets.Data();
  s->lengthData = lengths.Data();
  s->slab = Napi::Persistent(slab);
  s->offsets = Napi::Persistent(offsets);
  s->lengths = Napi::Persistent(lengths);
  env.SetInstanceData(s);

  exports.Set("open", Napi::Function::New<Open>(env, "open"));
  exports.Set("configure", Napi::Function::New<Configure>(env, "configure"));
  exports.Set("addAddress6", Napi::Function::New<AddAddress6>(env, "addAddress6"));
  exports.Set("route6", Napi::Function::New<Route6>(env, "route6"));
  exports.Set("resetAsync", Napi::Function::New<ResetAsync>(env, "resetAsync"));
  exports.Set("write", Napi::Function::New<Write>(env, "write"));
  exports.Set("writeBatch", Napi::Function::New<WriteBatch>(env, "writeBatch"));
  exports.Set("segment", Napi::Function::New<SegmentForTest>(env, "segment"));
  exports.Set("coalesce", Napi::Function::New<CoalesceForTest>(env, "coalesce"));
  exports.Set("tuneTcp", Napi::Function::New<TuneTcp>(env, "tuneTcp"));
  exports.Set("TunPoller", TunPoller::Define(env));
  exports.Set("reuseportListen", Napi::Function::New<reuseport::ReuseportListen>(env, "reuseportListen"));
  exports.Set("HEADROOM", Napi::Number::New(env, kHeadroom));
  exports.Set("MAX_PACKET", Napi::Number::New(env, kMaxPacket));
  exports.Set("BATCH", Napi::Number::New(env, kBatch));
  return exports;
}

}  // namespace

NODE_API_MODULE(sstpd_tun, Init)
