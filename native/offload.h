// TUN offload helpers: the packet surgery behind IFF_VNET_HDR, free of N-API and I/O so the same
// code serves the device path and the test entry points.
//
// Segment (host -> client): a TUN with TUNSETOFFLOAD hands over TCP/UDP super-packets of up to
// 64 KB with a virtio_net_hdr describing how to cut them (gso_size, csum_start/offset). We cut
// them the way the kernel's own GSO would (tcp_gso_segment / udp4_ufo / inet_gso_segment): the
// same headers on each segment with IPv4 total length, ID (+1 per segment) and header checksum
// fixed, IPv6 payload length fixed, TCP sequence advanced, FIN/PSH only on the last segment and
// CWR only on the first, UDP length set, and every transport checksum computed in full.
// A non-GSO packet flagged NEEDS_CSUM gets its partial checksum completed.
//
// Coalesce (client -> host): consecutive in-order TCP segments of one flow become one GRO
// super-packet, following the rules of Linux tcp_gro_receive/inet_gro_receive (same headers but
// for the lengths, contiguous sequence numbers, equal ACK/window/options, PSH or a short segment
// closes the group, valid checksums only), written with a virtio header asking the kernel to
// finish the checksum (NEEDS_CSUM) and resegment if it forwards the packet.
#pragma once

#include <cstddef>
#include <cstdint>

namespace offload {

// struct virtio_net_hdr (legacy layout, host byte order as a TUN without TUNSETVNETLE uses).
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");

constexpr uint8_t kNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoTcpV4 = 1;
constexpr uint8_t kGsoTcpV6 = 4;
constexpr uint8_t kGsoUdpL4 = 5;
constexpr uint8_t kGsoEcn = 0x80;

// Most segments we cut one super-packet into; more (an MTU under ~300 bytes) is refused.
constexpr size_t kMaxSegments = 256;
// Longest header (IP + extension headers + transport) we copy in front of each segment.
constexpr size_t kMaxHeader = 256;
// Most segments in one GRO super-packet (one writev, so it bounds the iovec array too).
constexpr size_t kMaxGroup = 64;

// Where segments go: returns room for `len` bytes (never null: callers reserve space first).
class SegmentSink {
 public:
  virtual uint8_t* Next(size_t len) = 0;

 protected:
  ~SegmentSink() = default;
};

enum class SegmentResult { kOk, kMalformed, kTooManySegments, kTooBig };

// Cuts `pkt` (len bytes, described by `h`) into packets of at most `mtu` bytes (0: gso_size
// decides), or copies it (with its checksum completed) when it is not a GSO packet. Checks
// everything before the first Next(), so a refused packet emits nothing. `*segments` receives
// how many packets went to the sink.
SegmentResult Segment(const uint8_t* pkt, size_t len, const VnetHdr& h, uint32_t mtu, SegmentSink& sink,
                      size_t* segments);

// An upper bound of the segments Segment() would emit, for callers reserving room (0 = refused).
size_t CountSegments(const uint8_t* pkt, size_t len, const VnetHdr& h, uint32_t mtu);

// One write for the TUN: packets [first, first + count) of the input, as one super-packet when
// count > 1 (then `hdr` says how, and `head` holds the rewritten IP + TCP header of `headLen`
// bytes to put in front of the payloads), else the packet as it is behind a zero virtio header.
struct Group {
  size_t first = 0;
  size_t count = 0;
  VnetHdr hdr{};
  uint8_t head[kMaxHeader];
  size_t headLen = 0;
  size_t totalLen = 0;
};

// Incremental GRO over a sequence of packets: Add() each in order; when it returns true the
// previous group is complete and was moved to `*done` (the new packet starts the next one).
// Finish() completes the last group.
class Coalescer {
 public:
  bool Add(const uint8_t* pkt, size_t len, Group* done);
  bool Finish(Group* done);

 private:
  struct Flow {
    const uint8_t* head;  // the first packet (its headers are the group's)
    size_t headLen;       // its length
    size_t l4;            // IP header length
    size_t th;            // TCP header length
    size_t mss;           // payload of the first packet: no later one may be longer
    size_t total;         // IP packet length of the group so far
    uint32_t nextSeq;
    uint16_t lastId;
    int idStep;           // IPv4: +1 per segment, or 0 (DF packets with a fixed ID); -1 = undecided
    bool closed;          // PSH or a short segment ended it
    bool candidate;       // the head could take more segments at all
    uint8_t pshFlag;
  };
  bool Appendable(const uint8_t* pkt, size_t len);
  void Start(const uint8_t* pkt, size_t len);
  void Emit(Group* done);

  Flow cur_{};
  size_t index_ = 0;  // index of the next packet Add() sees
  size_t first_ = 0;
  size_t count_ = 0;
};

// Internet checksum helpers (RFC 1071), exposed for the device code.
uint16_t Fold(uint64_t sum);  // folds a native-order partial sum to 16 bits, big-endian value
uint64_t SumBytes(const uint8_t* p, size_t len, uint64_t sum);

}  // namespace offload
