// See offload.h for what this does and why.
#include "offload.h"

#include <cstring>

namespace offload {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10,
                  kTcpUrg = 0x20, kTcpCwr = 0x80;
constexpr size_t kTcpFlags = 13;

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Sum of the pseudo header (RFC 793 / RFC 8200 8.1): addresses, protocol, transport length.
uint64_t PseudoSum(const uint8_t* ip, uint8_t proto, size_t l4len) {
  uint8_t tail[4] = {0, proto, static_cast<uint8_t>(l4len >> 8), static_cast<uint8_t>(l4len)};
  bool v6 = (ip[0] >> 4) == 6;
  // IPv6's upper-layer length is 32 bits; ours fit in 16 and the zero high half adds nothing.
  uint64_t sum = SumBytes(ip + (v6 ? 8 : 12), v6 ? 32 : 8, 0);
  return SumBytes(tail, 4, sum);
}

// Fixes the IPv4 header checksum over ihl bytes.
void Ipv4HeaderChecksum(uint8_t* ip, size_t ihl) {
  ip[10] = ip[11] = 0;
  Put16(ip + 10, static_cast<uint16_t>(~Fold(SumBytes(ip, ihl, 0))));
}

// The header layout of a packet the kernel gave us for segmentation; false if it does not hold.
struct Layout {
  bool v6;
  bool tcp;
  size_t l4;   // transport header offset (csum_start)
  size_t hdr;  // all headers (IP + transport)
  size_t seg;  // payload bytes per segment
};

bool Plan(const uint8_t* pkt, size_t len, const VnetHdr& h, uint32_t mtu, Layout* out) {
  if (len < 20 || len > 65535 + 40) return false;
  uint8_t gso = h.gso_type & ~kGsoEcn;
  int ver = pkt[0] >> 4;
  out->v6 = ver == 6;
  if (ver != 4 && ver != 6) return false;
  if ((gso == kGsoTcpV4 && ver != 4) || (gso == kGsoTcpV6 && ver != 6)) return false;
  out->tcp = gso == kGsoTcpV4 || gso == kGsoTcpV6;
  if (!out->tcp && gso != kGsoUdpL4) return false;
  out->l4 = h.csum_start;
  if (ver == 4) {
    size_t ihl = (pkt[0] & 0x0f) * 4u;
    if (ihl < 20 || out->l4 != ihl || pkt[9] != (out->tcp ? kProtoTcp : kProtoUdp)) return false;
  } else if (out->l4 < 40) {
    return false;
  }
  if (out->tcp) {
    if (h.csum_offset != 16 || out->l4 + 20 > len) return false;
    size_t th = (pkt[out->l4 + 12] >> 4) * 4u;
    if (th < 20) return false;
    out->hdr = out->l4 + th;
  } else {
    if (h.csum_offset != 6) return false;
    out->hdr = out->l4 + 8;
  }
  if (out->hdr > kMaxHeader || out->hdr >= len || h.gso_size == 0) return false;
  out->seg = h.gso_size;
  if (mtu != 0 && out->hdr + out->seg > mtu) {
    // TCP can be cut finer than the kernel asked; a UDP segment is a datagram and cannot.
    if (!out->tcp || mtu <= out->hdr) return false;
    out->seg = mtu - out->hdr;
  }
  return true;
}

}  // namespace

uint64_t SumBytes(const uint8_t* p, size_t len, uint64_t sum) {
  // Native-order 32-bit words: the one's complement sum is byte-order independent up to a final
  // swap (RFC 1071 2.B), and 2^16 = 1 modulo 2^16 - 1 lets 32-bit words add like two 16-bit ones.
  while (len >= 8) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    sum += a;
    sum += b;
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    uint16_t a;
    std::memcpy(&a, p, 2);
    sum += a;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    uint8_t last[2] = {p[0], 0};
    uint16_t a;
    std::memcpy(&a, last, 2);
    sum += a;
  }
  return sum;
}

uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t v = static_cast<uint16_t>(sum);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = static_cast<uint16_t>((v >> 8) | (v << 8));
#endif
  return v;
}

size_t CountSegments(const uint8_t* pkt, size_t len, const VnetHdr& h, uint32_t mtu) {
  if ((h.gso_type & ~kGsoEcn) == kGsoNone) return 1;
  Layout l;
  if (!Plan(pkt, len, h, mtu, &l)) return 0;
  size_t n = (len - l.hdr + l.seg - 1) / l.seg;
  return n <= kMaxSegments ? n : 0;
}

SegmentResult Segment(const uint8_t* pkt, size_t len, const VnetHdr& h, uint32_t mtu, SegmentSink& sink,
                      size_t* segments) {
  *segments = 0;
  if ((h.gso_type & ~kGsoEcn) == kGsoNone) {
    if (len == 0) return SegmentResult::kMalformed;
    if (mtu != 0 && len > mtu) return SegmentResult::kTooBig;
    size_t at = static_cast<size_t>(h.csum_start) + h.csum_offset;
    bool partial = (h.flags & kNeedsCsum) != 0;
    if (partial && (h.csum_start >= len || at + 2 > len)) return SegmentResult::kMalformed;
    uint8_t* out = sink.Next(len);
    std::memcpy(out, pkt, len);
    if (partial) {
      // The field holds the pseudo-header sum; the rest is ours to add (CHECKSUM_PARTIAL).
      uint16_t c = static_cast<uint16_t>(~Fold(SumBytes(out + h.csum_start, len - h.csum_start, 0)));
      // A UDP checksum of zero means "none": send its other form (RFC 768).
      if (c == 0 && h.csum_offset == 6) c = 0xffff;
      Put16(out + at, c);
    }
    *segments = 1;
    return SegmentResult::kOk;
  }
  Layout l;
  if (!Plan(pkt, len, h, mtu, &l)) return SegmentResult::kMalformed;
  size_t payload = len - l.hdr;
  size_t n = (payload + l.seg - 1) / l.seg;
  if (n > kMaxSegments) return SegmentResult::kTooManySegments;
  uint32_t seq = l.tcp ? Get32(pkt + l.l4 + 4) : 0;
  uint16_t id = l.v6 ? 0 : Get16(pkt + 4);
  uint8_t proto = l.tcp ? kProtoTcp : kProtoUdp;
  for (size_t i = 0; i < n; i++) {
    size_t off = l.hdr + i * l.seg;
    size_t data = payload - i * l.seg < l.seg ? payload - i * l.seg : l.seg;
    size_t total = l.hdr + data;
    uint8_t* out = sink.Next(total);
    std::memcpy(out, pkt, l.hdr);
    std::memcpy(out + l.hdr, pkt + off, data);
    if (l.v6) {
      Put16(out + 4, static_cast<uint16_t>(total - 40));
    } else {
      Put16(out + 2, static_cast<uint16_t>(total));
      Put16(out + 4, static_cast<uint16_t>(id + i));
      Ipv4HeaderChecksum(out, l.l4);
    }
    uint8_t* th = out + l.l4;
    if (l.tcp) {
      Put32(th + 4, seq + static_cast<uint32_t>(i * l.seg));
      if (i + 1 < n) th[kTcpFlags] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
      if (i > 0) th[kTcpFlags] &= static_cast<uint8_t>(~kTcpCwr);
    } else {
      Put16(th + 4, static_cast<uint16_t>(total - l.l4));
    }
    uint8_t* csum = th + (l.tcp ? 16 : 6);
    csum[0] = csum[1] = 0;
    uint16_t c = static_cast<uint16_t>(~Fold(SumBytes(th, total - l.l4, PseudoSum(out, proto, total - l.l4))));
    if (c == 0 && !l.tcp) c = 0xffff;
    Put16(csum, c);
  }
  *segments = n;
  return SegmentResult::kOk;
}

// ---- GRO --------------------------------------------------------------------------------------

namespace {

// What decides whether a packet can be part of a TCP group at all; false = write it alone.
struct TcpView {
  bool v6;
  size_t l4, th, payload;
};

bool ChecksumsValid(const uint8_t* pkt, size_t len, const TcpView& v) {
  if (!v.v6 && Fold(SumBytes(pkt, v.l4, 0)) != 0xffff) return false;
  return Fold(SumBytes(pkt + v.l4, len - v.l4, PseudoSum(pkt, kProtoTcp, len - v.l4))) == 0xffff;
}

bool ParseTcp(const uint8_t* pkt, size_t len, TcpView* v) {
  if (len < 40) return false;
  int ver = pkt[0] >> 4;
  if (ver == 4) {
    // Linux GRO takes only option-less IPv4 headers, unfragmented, TCP, with exact lengths.
    if (pkt[0] != 0x45 || pkt[9] != kProtoTcp || Get16(pkt + 2) != len) return false;
    if ((Get16(pkt + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
    v->v6 = false;
    v->l4 = 20;
  } else if (ver == 6) {
    if (len < 60 || pkt[6] != kProtoTcp || Get16(pkt + 4) != len - 40) return false;
    v->v6 = true;
    v->l4 = 40;
  } else {
    return false;
  }
  v->th = (pkt[v->l4 + 12] >> 4) * 4u;
  if (v->th < 20 || v->l4 + v->th >= len) return false;  // no payload: never coalesced
  v->payload = len - v->l4 - v->th;
  uint8_t f = pkt[v->l4 + kTcpFlags];
  // Only plain data segments (ACK, maybe PSH; ECE as it comes): SYN/FIN/RST/URG/CWR go alone.
  if ((f & kTcpAck) == 0 || (f & (kTcpSyn | kTcpFin | kTcpRst | kTcpUrg | kTcpCwr)) != 0) return false;
  return ChecksumsValid(pkt, len, *v);
}

}  // namespace

void Coalescer::Start(const uint8_t* pkt, size_t len) {
  first_ = index_;
  count_ = 1;
  cur_ = Flow{};
  cur_.head = pkt;
  cur_.headLen = len;
  TcpView v;
  cur_.candidate = ParseTcp(pkt, len, &v);
  if (!cur_.candidate) return;
  cur_.l4 = v.l4;
  cur_.th = v.th;
  cur_.mss = v.payload;
  cur_.total = len;
  cur_.nextSeq = Get32(pkt + v.l4 + 4) + static_cast<uint32_t>(v.payload);
  cur_.lastId = v.v6 ? 0 : Get16(pkt + 4);
  cur_.idStep = -1;
  cur_.pshFlag = pkt[v.l4 + kTcpFlags] & kTcpPsh;
  cur_.closed = cur_.pshFlag != 0;
}

bool Coalescer::Appendable(const uint8_t* pkt, size_t len) {
  const Flow& f = cur_;
  if (!f.candidate || f.closed || count_ >= kMaxGroup) return false;
  TcpView v;
  if (!ParseTcp(pkt, len, &v) || v.l4 != f.l4 || v.th != f.th || v.payload > f.mss) return false;
  if (f.total + v.payload > 65535 + (v.v6 ? 40u : 0u)) return false;
  const uint8_t* h = f.head;
  if (!v.v6) {
    // version/IHL/TOS, DF bit, TTL, protocol, addresses; the ID is checked below.
    if (h[1] != pkt[1] || (h[6] & 0x40) != (pkt[6] & 0x40) || h[8] != pkt[8] || std::memcmp(h + 12, pkt + 12, 8) != 0)
      return false;
  } else {
    // version, traffic class, flow label, next header, hop limit, addresses.
    if (std::memcmp(h, pkt, 4) != 0 || h[6] != pkt[6] || h[7] != pkt[7] || std::memcmp(h + 8, pkt + 8, 32) != 0)
      return false;
  }
  const uint8_t* a = h + f.l4;
  const uint8_t* b = pkt + v.l4;
  // Ports, ACK number, data offset, window, options equal; flags equal but for PSH.
  if (std::memcmp(a, b, 4) != 0 || std::memcmp(a + 8, b + 8, 5) != 0 || std::memcmp(a + 14, b + 14, 2) != 0 ||
      std::memcmp(a + 20, b + 20, f.th - 20) != 0 || ((a[kTcpFlags] ^ b[kTcpFlags]) & ~kTcpPsh) != 0)
    return false;
  if (Get32(b + 4) != f.nextSeq) return false;
  if (!v.v6) {
    // Linux GRO: IDs go up by one per segment, or (DF set) may all be the same.
    uint16_t step = static_cast<uint16_t>(Get16(pkt + 4) - f.lastId);
    bool df = (pkt[6] & 0x40) != 0;
    if (f.idStep == -1 ? !(step == 1 || (df && step == 0)) : step != f.idStep) return false;
  }
  return true;
}

bool Coalescer::Add(const uint8_t* pkt, size_t len, Group* done) {
  if (count_ == 0) {
    Start(pkt, len);
    index_++;
    return false;
  }
  if (Appendable(pkt, len)) {
    TcpView v{cur_.head[0] >> 4 == 6, cur_.l4, cur_.th, len - cur_.l4 - cur_.th};
    if (!v.v6) {
      uint16_t id = Get16(pkt + 4);
      if (cur_.idStep == -1) cur_.idStep = static_cast<uint16_t>(id - cur_.lastId);
      cur_.lastId = id;
    }
    cur_.total += v.payload;
    cur_.nextSeq += static_cast<uint32_t>(v.payload);
    uint8_t psh = pkt[v.l4 + kTcpFlags] & kTcpPsh;
    cur_.pshFlag |= psh;
    // A short segment or PSH ends the group (tcp_gro_receive's out_check_final).
    cur_.closed = psh != 0 || v.payload < cur_.mss;
    count_++;
    index_++;
    return false;
  }
  Emit(done);
  Start(pkt, len);
  index_++;
  return true;
}

bool Coalescer::Finish(Group* done) {
  if (count_ == 0) return false;
  Emit(done);
  count_ = 0;
  return true;
}

void Coalescer::Emit(Group* g) {
  g->first = first_;
  g->count = count_;
  g->hdr = VnetHdr{};
  if (count_ == 1) {
    g->headLen = 0;
    g->totalLen = cur_.headLen;
    return;
  }
  const Flow& f = cur_;
  bool v6 = f.head[0] >> 4 == 6;
  size_t hl = f.l4 + f.th;
  std::memcpy(g->head, f.head, hl);
  g->headLen = hl;
  g->totalLen = f.total;
  uint8_t* ip = g->head;
  if (v6) {
    Put16(ip + 4, static_cast<uint16_t>(f.total - 40));
  } else {
    Put16(ip + 2, static_cast<uint16_t>(f.total));
    Ipv4HeaderChecksum(ip, 20);
  }
  uint8_t* th = ip + f.l4;
  th[kTcpFlags] |= f.pshFlag;
  // CHECKSUM_PARTIAL: the field carries the pseudo-header sum, the kernel adds the rest.
  th[16] = th[17] = 0;
  Put16(th + 16, Fold(PseudoSum(ip, kProtoTcp, f.total - f.l4)));
  g->hdr.flags = kNeedsCsum;
  g->hdr.gso_type = v6 ? kGsoTcpV6 : kGsoTcpV4;
  g->hdr.hdr_len = static_cast<uint16_t>(hl);
  g->hdr.gso_size = static_cast<uint16_t>(f.mss);
  g->hdr.csum_start = static_cast<uint16_t>(f.l4);
  g->hdr.csum_offset = 16;
}

}  // namespace offload
