#include "session_protocol.h"

#include <cstdio>

namespace grid {

std::string quoteAnsiC(std::string_view text) {
  std::string out = "$'";
  out.reserve(text.size() + 8);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
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

std::string sessionExecScript(std::string_view command) {
  return "eval " + quoteAnsiC(command) + " </dev/null 2>&1\n";
}

std::string sessionInitScript(std::string_view token) {
  std::string t(token);
  return "PS1=''; PS2=''; PS3=''; PS4='+ '; PROMPT_COMMAND=''; unset MAILCHECK HISTFILE\n"
         "set +o history; set +H; shopt -u checkwinsize 2>/dev/null\n"
         "trap 'printf \"%s:exit:%d\\n\" \"" + t + "\" \"$?\"' EXIT\n"
         "read -r _ _ _ _ __grid_pgid _ </proc/$$/stat 2>/dev/null\n"
         "printf '%s:ready:%d:%s\\n' '" + t + "' \"$$\" \"${__grid_pgid:-0}\"; unset __grid_pgid\n"
         // Read-only, so a command cannot switch the markers off by accident.
         "PROMPT_COMMAND='printf \"%s:done:%d\\n\" \"" + t + "\" \"$?\"'; readonly PROMPT_COMMAND\n";
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
  return head_ + "\n[... " + std::to_string(dropped) + " bytes truncated ...]\n" +
         std::string(tail);
}

MarkerScanner::MarkerScanner(std::string token) : prefix_(std::move(token) + ":") {}

std::optional<MarkerScanner::Marker> MarkerScanner::feed(std::string_view data,
                                                         std::string& output) {
  pending_.append(data);
  size_t search_from = 0;
  while (true) {
    const size_t at = pending_.find(prefix_, search_from);
    if (at == std::string::npos) {
      // Keep back only what could be the start of a marker.
      size_t keep = std::min(pending_.size(), prefix_.size() - 1);
      while (keep > 0 &&
             pending_.compare(pending_.size() - keep, keep, prefix_, 0, keep) != 0) {
        --keep;
      }
      output.append(pending_, 0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
      return std::nullopt;
    }
    const size_t line_end = pending_.find('\n', at);
    if (line_end == std::string::npos) {
      output.append(pending_, 0, at);
      pending_.erase(0, at);
      return std::nullopt;
    }
    const std::string_view body =
        std::string_view(pending_).substr(at + prefix_.size(), line_end - at - prefix_.size());
    const size_t colon = body.find(':');
    if (colon == std::string_view::npos) {
      search_from = at + 1;  // not a marker after all: leave it in the output
      continue;
    }
    Marker marker{std::string(body.substr(0, colon)), std::string(body.substr(colon + 1))};
    output.append(pending_, 0, at);
    pending_.erase(0, line_end + 1);
    return marker;
  }
}

std::string MarkerScanner::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace grid
