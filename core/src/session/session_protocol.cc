#include "session/session_protocol.h"

#include <algorithm>
#include <cstdio>

#include "session/output_ring.h"

namespace grid {

std::string quoteAnsiC(std::string_view text) {
  std::string out = "$'";
  out.reserve(text.size() + 8);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", byte);
          out += buf;
        } else {
          out += c;  // bytes >= 0x80 pass through: bash keeps them as they are
        }
    }
  }
  out += '\'';
  return out;
}

std::string sessionExecScript(std::string_view nonce, std::string_view command) {
  // bash reads a pipe one byte at a time (so as not to consume what a command should read):
  // every byte of this line costs a read(), hence the start marker lives in a function.
  std::string line;
  line.reserve(command.size() + nonce.size() + 48);
  line.append(kStartFunction).append(" ").append(nonce).append("; eval ");
  line.append(quoteAnsiC(command)).append(" </dev/null 2>&1\n");
  return line;
}

std::string sessionInitScript(std::string_view token) {
  const std::string t(token);
  const std::string nonce_var(kNonceVariable);
  const std::string start_fn(kStartFunction);
  std::string script =
      "PS1=''; PS2=''; PS3=''; PS4='+ '; PROMPT_COMMAND=''; unset MAILCHECK HISTFILE\n"
      "set +o history; set +H; shopt -u checkwinsize 2>/dev/null\n";
  script += nonce_var + "=''\n";
  // Read-only, like PROMPT_COMMAND, so a command cannot replace it by accident.
  script += start_fn + "() { " + nonce_var + "=$1; printf '%s:start:%s\\n' '" + t +
            "' \"$1\"; }; readonly -f " + start_fn + "\n";
  script += "trap 'printf \"%s:exit:%s:%d\\n\" \"" + t + "\" \"$" + nonce_var + "\" \"$?\"' EXIT\n";
  script += "read -r _ _ _ _ __grid_pgid _ </proc/$$/stat 2>/dev/null\n";
  script +=
      "printf '%s:ready:%d:%s\\n' '" + t + "' \"$$\" \"${__grid_pgid:-0}\"; unset __grid_pgid\n";
  // Read-only, so a command cannot switch the markers off by accident.
  script += "PROMPT_COMMAND='printf \"%s:done:%s:%d\\n\" \"" + t + "\" \"$" + nonce_var +
            "\" \"$?\"'; readonly PROMPT_COMMAND\n";
  return script;
}

void CappedOutput::append(std::string_view data) {
  const size_t head_budget = headBudget();
  const size_t tail_budget = tailBudget();
  if (head_.size() < head_budget) {
    const size_t take = std::min(data.size(), head_budget - head_.size());
    head_.append(data.substr(0, take));
    data.remove_prefix(take);
  }
  if (data.empty()) return;
  if (data.size() >= tail_budget) {
    dropped_ += tail_.size() + data.size() - tail_budget;
    tail_.assign(data.substr(data.size() - tail_budget));
    return;
  }
  tail_.append(data);
  // Trim in batches so a stream of small appends stays amortised O(n).
  if (tail_.size() > 2 * tail_budget) {
    const size_t excess = tail_.size() - tail_budget;
    dropped_ += excess;
    tail_.erase(0, excess);
  }
}

std::string CappedOutput::str() const {
  const size_t tail_budget = tailBudget();
  std::string_view tail = tail_;
  size_t dropped = dropped_;
  if (tail.size() > tail_budget) {
    dropped += tail.size() - tail_budget;
    tail.remove_prefix(tail.size() - tail_budget);
  }
  if (dropped == 0) return head_ + std::string(tail);
  return head_ + outputTruncationNotice(dropped) + std::string(tail);
}

namespace {

bool isMarkerKind(std::string_view kind) {
  if (kind.empty()) return false;
  for (const char c : kind) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

bool isMarkerFields(std::string_view fields) {
  for (const char c : fields) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

MarkerScanner::MarkerScanner(std::string token) : prefix_(std::move(token) + ":") {}

std::optional<MarkerScanner::Marker> MarkerScanner::feed(std::string_view data,
                                                         std::string& output) {
  pending_.append(data);
  size_t search_from = 0;
  while (true) {
    const size_t at = pending_.find(prefix_, search_from);
    if (at == std::string::npos) {
      // Keep back only what could be the start of a marker.
      size_t keep =
          std::min(pending_.size() - std::min(pending_.size(), search_from), prefix_.size() - 1);
      while (keep > 0 && pending_.compare(pending_.size() - keep, keep, prefix_, 0, keep) != 0) {
        --keep;
      }
      output.append(pending_, 0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
      return std::nullopt;
    }
    // A marker line ends within kMaxMarkerBody bytes of its prefix: look no further, so a
    // prefix followed by an endless line is output (bounded by its cap), never held here.
    const size_t body_at = at + prefix_.size();
    const std::string_view window = std::string_view(pending_).substr(body_at, kMaxMarkerBody + 1);
    const size_t newline = window.find('\n');
    if (newline == std::string_view::npos) {
      if (window.size() <= kMaxMarkerBody) {
        // Might still become a marker: hold it back (at most prefix + kMaxMarkerBody bytes).
        output.append(pending_, 0, at);
        pending_.erase(0, at);
        return std::nullopt;
      }
      search_from = at + 1;  // too long for a marker: it is output
      continue;
    }
    const std::string_view body = window.substr(0, newline);
    const size_t colon = body.find(':');
    if (colon == std::string_view::npos || !isMarkerKind(body.substr(0, colon)) ||
        !isMarkerFields(body.substr(colon + 1))) {
      search_from = at + 1;  // not a marker after all: leave it in the output
      continue;
    }
    Marker marker{std::string(body.substr(0, colon)), std::string(body.substr(colon + 1))};
    output.append(pending_, 0, at);
    pending_.erase(0, body_at + newline + 1);
    return marker;
  }
}

std::string MarkerScanner::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

std::optional<NonceStatus> parseNonceStatus(std::string_view fields) {
  const size_t colon = fields.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view status = fields.substr(colon + 1);
  if (status.empty() || status.size() > 10) return std::nullopt;
  int value = 0;
  for (const char c : status) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
    if (value > 1'000'000) return std::nullopt;
  }
  return NonceStatus{std::string(fields.substr(0, colon)), value};
}

ExecTranscript::ExecTranscript(std::string token, std::string nonce, size_t max_output_bytes)
    : scanner_(std::move(token)), nonce_(std::move(nonce)), output_(max_output_bytes) {}

void ExecTranscript::take(std::string_view text) {
  if (started_) {
    output_.append(text);
    released_.append(text);
  } else {
    dropped_before_start_ += text.size();
  }
}

std::optional<ExecTranscript::End> ExecTranscript::feed(std::string_view data) {
  released_.clear();
  while (true) {
    text_.clear();
    const auto marker = scanner_.feed(data, text_);
    data = {};
    take(text_);
    if (!marker) return std::nullopt;
    if (!started_) {
      // Only this exec's start marker counts; any other marker is a leftover and is dropped.
      if (marker->kind == "start" && marker->fields == nonce_) {
        started_ = true;
      } else {
        dropped_before_start_ +=
            scanner_.prefix().size() + marker->kind.size() + marker->fields.size() + 2;
      }
      continue;
    }
    if (marker->kind == "done" || marker->kind == "exit") {
      const auto parsed = parseNonceStatus(marker->fields);
      if (parsed && parsed->nonce == nonce_) return End{marker->kind == "exit", parsed->status};
    }
    // Another exec's marker (forged, or printed late by a background job): the command printed
    // it, so it is the command's output, verbatim.
    take(scanner_.prefix());
    take(marker->kind);
    take(":");
    take(marker->fields);
    take("\n");
  }
}

void ExecTranscript::flush() {
  released_.clear();
  take(scanner_.flush());
}

}  // namespace grid
