#include "listen.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "errno_error.h"

namespace reuseport {
namespace {

// One address to bind: the family decides the sockaddr; `dual` clears IPV6_V6ONLY.
struct Bindable {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
  bool dual = false;
};

bool Parse(const std::string& text, uint16_t port, Bindable* out) {
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->addr);
  if (text.empty()) {
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_any;
    v6->sin6_port = htons(port);
    out->family = AF_INET6;
    out->len = sizeof(sockaddr_in6);
    out->dual = true;
    return true;
  }
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out->family = AF_INET;
    out->len = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out->family = AF_INET6;
    out->len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// The fd, or -errno with `*syscall` naming the step that failed (the fd is closed then).
int Open(const Bindable& b, int backlog, const char** syscall) {
  int fd = socket(b.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *syscall = "socket";
    return -errno;
  }
  const int on = 1;
  const int off = 0;
  // SO_REUSEADDR as libuv sets it (a restart binds past TIME_WAIT); SO_REUSEPORT: the point.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    *syscall = "setsockopt(SO_REUSEADDR)";
  } else if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    *syscall = "setsockopt(SO_REUSEPORT)";
  } else if (b.dual && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0) {
    *syscall = "setsockopt(IPV6_V6ONLY)";
  } else if (bind(fd, reinterpret_cast<const sockaddr*>(&b.addr), b.len) != 0) {
    *syscall = "bind";
  } else if (::listen(fd, backlog) != 0) {
    *syscall = "listen";
  } else {
    return fd;
  }
  const int err = errno;
  close(fd);
  return -err;
}

}  // namespace

Napi::Value ReuseportListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "reuseportListen(address: string, port: number, backlog: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string text = info[0].As<Napi::String>().Utf8Value();
  const int64_t port = info[1].As<Napi::Number>().Int64Value();
  const int backlog = info[2].As<Napi::Number>().Int32Value();
  Bindable b;
  if (port < 0 || port > 65535 || !Parse(text, static_cast<uint16_t>(port), &b)) {
    Napi::TypeError::New(env, "reuseportListen: not an IP address and port: " + text + " " + std::to_string(port)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string what = (text.empty() ? std::string("[::]") : text) + ":" + std::to_string(port);
  const char* syscall = "";
  int fd = Open(b, backlog, &syscall);
  // A host without IPv6: every IPv4 address instead, as Node falls back.
  if (fd == -EAFNOSUPPORT && b.dual) {
    Bindable any4;
    Parse("0.0.0.0", static_cast<uint16_t>(port), &any4);
    fd = Open(any4, backlog, &syscall);
  }
  if (fd < 0) {
    ErrnoError(env, -fd, syscall, what).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

}  // namespace reuseport
