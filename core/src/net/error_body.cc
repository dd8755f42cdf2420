#include "net/error_body.h"

#include <Poco/JSON/Object.h>

#include <sstream>

#include "util/utf8.h"

namespace grid {

std::string errorBody(std::string_view code, std::string_view message) {
  Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("error", sanitizeUtf8(std::string(message)));
  body.set("code", std::string(code));
  std::ostringstream out;
  body.stringify(out);
  out << '\n';
  return out.str();
}

}  // namespace grid
