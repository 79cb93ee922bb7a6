// The C ABI. Every entry point catches everything and reports through mlrc_error_last().
#include "mlrcopilot.h"

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/providers.hpp>
#include <mlrcopilot/version.hpp>

#include <boost/json.hpp>

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

static_assert(MLRC_VERSION_NUMBER == mlrc::version_number, "capi/include/mlrcopilot.h and include/mlrcopilot/version.hpp disagree");

namespace {

struct LastError {
  int code = MLRC_OK;
  std::string message = "no error";
  std::string provider_text;
  mlrc_error view{};
};
thread_local LastError last_error;

int set_error(int code, std::string message, std::string provider_text = {}) {
  last_error.code = code;
  last_error.message = std::move(message);
  last_error.provider_text = std::move(provider_text);
  return code;
}

int clear_error() { return set_error(MLRC_OK, "no error"); }

// Runs `f`, turning any exception into an error code.
template <class F>
int guarded(F&& f) noexcept {
  try {
    clear_error();
    return f();
  } catch (const mlrc::Error& e) {
    return set_error(-static_cast<int>(e.code_enum()), e.what(), e.provider_text());
  } catch (const std::bad_alloc&) {
    return set_error(MLRC_EINTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return set_error(MLRC_EINTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return set_error(MLRC_EINTERNAL, "internal error: unknown exception");
  }
}

int fill_buf(mlrc_buf* out, const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) return set_error(MLRC_EINTERNAL, "out of memory");
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  out->ptr = p;
  out->size = s.size();
  out->reserved = s.size() + 1;
  return MLRC_OK;
}

}  // namespace

extern "C" {

MLRC_API const mlrc_error* mlrc_error_last(void) {
  auto& e = last_error;
  e.view.code = e.code;
  e.view.message = e.message.c_str();
  e.view.provider_text = e.provider_text.c_str();
  return &e.view;
}

MLRC_API void mlrc_buf_dispose(mlrc_buf* buf) {
  if (!buf) return;
  std::free(buf->ptr);
  buf->ptr = nullptr;
  buf->size = buf->reserved = 0;
}

MLRC_API int mlrc_version_number(void) { return mlrc::linked_version_number(); }
MLRC_API const char* mlrc_version_string(void) { return mlrc::linked_version_string(); }

MLRC_API int mlrc_model_spec_parse(mlrc_buf* out, const char* spec) {
  return guarded([&] {
    if (!out) return set_error(MLRC_EINVALID, "mlrc_model_spec_parse: out is NULL");
    *out = mlrc_buf{};
    if (!spec) return set_error(MLRC_EINVALID, "mlrc_model_spec_parse: spec is NULL");
    auto s = mlrc::ModelSpec::parse(spec);
    boost::json::object o;
    o["provider"] = mlrc::provider_kind_name(s.kind);
    o["model"] = s.model;
    o["base_url"] = s.base_url;
    o["spec"] = s.to_string();
    return fill_buf(out, boost::json::serialize(o));
  });
}

}  // extern "C"
