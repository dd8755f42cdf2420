// GET /ui: the dashboard's static files (HTML, CSS, JS from the installed ui directory),
// served without a token: they hold no data, and every API call the page makes carries the
// token the user typed in. Strict headers: a Content-Security-Policy that allows only the
// page's own scripts and styles (no inline script), no framing, no sniffing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/reply.h"

namespace grid {

/// The policy every dashboard file is served with.
inline constexpr const char* kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The file a request for /ui/... names: "index.html" for /ui and /ui/, else the one path part
/// after /ui when it is a plain file name ([A-Za-z0-9_-] and dots, not starting with a dot)
/// with a known extension (.html, .js, .css, .svg); nullopt for anything else.
std::optional<std::string> dashboardFileFor(const std::vector<std::string>& parts);

/// The reply for GET/HEAD /ui... from `ui_dir`. An empty `ui_dir` or a missing file is 404
/// with a message naming where the files were looked for.
Reply dashboardReply(const std::string& ui_dir, const std::vector<std::string>& parts,
                     const std::string& method);

}  // namespace grid
