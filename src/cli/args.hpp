#pragma once
// The command line's option parser, shared by every `mlrc` command: --name VALUE, --name=VALUE,
// boolean --flag, -h/--help, positionals; "--" ends the options. Unknown options and a missing
// value are usage errors naming the option.
#include <algorithm>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlrc::cli {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> pos;
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, std::string def = {}) const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
};

// Parses argv[from…].
inline Args parse_args(const std::vector<std::string>& argv, const std::vector<std::string>& flags,
                       const std::vector<std::string>& valued, std::size_t from = 0) {
  auto in = [](const std::vector<std::string>& v, const std::string& k) { return std::find(v.begin(), v.end(), k) != v.end(); };
  Args a;
  for (std::size_t i = from; i < argv.size(); ++i) {
    const std::string& s = argv[i];
    if (s == "--") {
      a.pos.insert(a.pos.end(), argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    if (s == "-h" || s == "--help") {
      a.opts["help"] = "1";
    } else if (s.size() > 2 && s.rfind("--", 0) == 0) {
      std::string name = s.substr(2), value;
      auto eq = name.find('=');
      bool inline_value = eq != std::string::npos;
      if (inline_value) value = name.substr(eq + 1), name.resize(eq);
      if (in(flags, name)) {
        if (inline_value) throw UsageError("option --" + name + " takes no value");
        a.opts[name] = "1";
      } else if (in(valued, name)) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) throw UsageError("option --" + name + " needs a value");
          value = argv[++i];
        }
        a.opts[name] = value;
      } else {
        throw UsageError("unknown option --" + name);
      }
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

}  // namespace mlrc::cli
