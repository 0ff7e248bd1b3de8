// SPDX-License-Identifier: MIT
// Webhook signatures (security-defaults.md, "Webhooks"). When `[gaffer] webhook_secret` is
// set, every POST carries
//
//   X-Gaffer-Timestamp: <unix seconds, decimal, no sign or padding>
//   X-Gaffer-Signature: sha256=<64 lowercase hex digits>
//
// where the hex digits are HMAC-SHA256(key = the secret's bytes, message = the exact bytes
// <timestamp> "." <body>), i.e. the header value of X-Gaffer-Timestamp, one ASCII full stop
// and the request body exactly as sent. A receiver recomputes the HMAC over the raw body
// (before any JSON parsing), compares in constant time, and rejects timestamps too far from
// its own clock (five minutes is the usual window) to stop replays. Each attempt, retries
// included, is signed afresh with the time it is sent.
//
// Pure functions (nettle's hmac_sha256); nothing here logs or keeps secret material.
#pragma once

#include <string>
#include <string_view>

namespace gaffer::webhook {

// HMAC-SHA256(key, data) as 64 lowercase hex characters.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// The exact string that is signed: timestamp + "." + body.
std::string signed_string(std::string_view timestamp, std::string_view body);

// The X-Gaffer-Signature value: "sha256=" + hmac_sha256_hex(secret, signed_string(...)).
std::string signature(std::string_view secret, std::string_view timestamp, std::string_view body);

}  // namespace gaffer::webhook
