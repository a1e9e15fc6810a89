// Errors the addon throws or reports, shaped like Node's own (code 'EPERM', errno 1, syscall).
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstring>
#include <string>

inline Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const char* code = uv_err_name(-err);
  Napi::Error e = Napi::Error::New(
      env, what + ": " + syscall + " failed: " + std::strerror(err) + " (" + code + ")");
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}
