// Listening TCP sockets with SO_REUSEPORT, for worker processes that each accept on their own
// (Node 20's net has no reusePort option).
#pragma once

#include <napi.h>

namespace reuseport {

// reuseportListen(address: string ('' = every address), port, backlog): a bound, listening,
// non-blocking, close-on-exec TCP socket with SO_REUSEADDR and SO_REUSEPORT; returns its fd.
// '' binds [::] with IPV6_V6ONLY off (IPv4 and IPv6, as Node does), or 0.0.0.0 without IPv6.
Napi::Value ReuseportListen(const Napi::CallbackInfo& info);

}  // namespace reuseport
