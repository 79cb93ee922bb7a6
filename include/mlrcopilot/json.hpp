#pragma once
/** @file json.hpp
 *  JSON text for the model data types, in the library's own neutral format (not a provider's).
 *  Used by cassettes, the run store, the CLI's --json output and the C ABI. Parsing throws
 *  `Error(errc::parse)` naming the field that is wrong. */

#include <mlrcopilot/error.hpp>
#include <mlrcopilot/model.hpp>

#include <string>
#include <string_view>

namespace mlrc {
inline namespace v1 {

std::string to_json(const ChatRequest& r);
std::string to_json(const ChatResponse& r);
std::string to_json(const Usage& u);
ChatRequest chat_request_from_json(std::string_view json);
ChatResponse chat_response_from_json(std::string_view json);

/** Canonical JSON of a request for hashing: keys sorted, no whitespace, and without the fields
 *  that do not change the reply (`stream`, `timeout`). */
std::string canonical_request_json(const ChatRequest& r);
/** Lower-case hex SHA-256 of `canonical_request_json(r)`. */
std::string request_hash(const ChatRequest& r);

}  // namespace v1
}  // namespace mlrc
