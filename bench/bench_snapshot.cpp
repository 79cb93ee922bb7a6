// Cost of recording the workspace after each agent step: content-addressed snapshots
// (mlrc::Workspace::snapshot) against copying the whole workspace to a new folder per step, as
// MLAgentBench does. The workspace holds a few big data files plus ~50 small source files, and
// each step changes one small file.
//
//   mlrc_bench_snapshot [--dir /tmp] [--data-mib 1024] [--files 50] [--steps 20] [--copy-steps 3] [--no-fsync]
//
// Everything is created under a fresh folder in --dir and removed at the end. The data were just
// written, so they sit in the page cache: the copy figures are a best case (no read from disk).
#include <mlrcopilot/workspace.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <stdlib.h>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  fs::path dir = fs::temp_directory_path();
  std::uint64_t data_mib = 1024;
  int files = 50;
  int steps = 20;
  int copy_steps = 3;
  bool fsync = true;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--dir") a.dir = val();
    else if (k == "--data-mib") a.data_mib = std::stoull(val());
    else if (k == "--files") a.files = std::stoi(val());
    else if (k == "--steps") a.steps = std::stoi(val());
    else if (k == "--copy-steps") a.copy_steps = std::stoi(val());
    else if (k == "--no-fsync") a.fsync = false;
    else {
      std::fprintf(stderr,
                   "usage: %s [--dir D] [--data-mib N] [--files N] [--steps N] [--copy-steps N] [--no-fsync]\n", argv[0]);
      std::exit(2);
    }
  }
  return a;
}

// A fresh folder, removed (with everything in it) on every way out of main.
struct TempDir {
  fs::path path;
  explicit TempDir(const fs::path& parent) {
    std::string tmpl = (parent / "mlrc-bench-snapshot-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a folder in " + parent.string());
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// splitmix64: fast enough to generate a GiB of incompressible bytes in a fraction of a second.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

void write_random(const fs::path& p, std::uint64_t bytes, Rng& rng) {
  std::ofstream f(p, std::ios::binary);
  std::vector<std::uint64_t> block(1u << 17);  // 1 MiB
  while (bytes > 0) {
    for (auto& w : block) w = rng.next();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, block.size() * 8));
    f.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    bytes -= n;
  }
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

std::string source_file(int i) {
  std::string s = "# module " + std::to_string(i) + "\nimport numpy as np\n\n";
  for (int f = 0; f < 40; ++f)
    s += "def f" + std::to_string(f) + "(x):\n    return np.tanh(x * " + std::to_string(i + f) + ") + 0.5\n\n";
  return s;
}

std::uint64_t tree_bytes(const fs::path& dir) {
  std::uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? T{} : v[v.size() / 2];
}

std::string human(double bytes) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) bytes /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, unit[u]);
  return buf;
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  TempDir tmp(args.dir);
  const fs::path root = tmp.path / "ws", store = tmp.path / "store";
  fs::create_directories(root / "data");
  fs::create_directories(root / "src");

  // The workspace: data files (8 unless there is less than 8 MiB) and small sources.
  const auto t_gen = Clock::now();
  Rng rng{12345};
  const std::uint64_t data_bytes = args.data_mib << 20;
  const std::uint64_t n_data = std::max<std::uint64_t>(1, std::min<std::uint64_t>(8, args.data_mib));
  for (std::uint64_t i = 0; i < n_data; ++i)
    write_random(root / "data" / ("part-" + std::to_string(i) + ".bin"), data_bytes / n_data, rng);
  for (int i = 0; i < args.files; ++i) {
    std::ofstream f(root / "src" / ("module_" + std::to_string(i) + ".py"), std::ios::binary);
    f << source_file(i);
  }
  const std::uint64_t ws_bytes = tree_bytes(root);
  std::printf("workspace: %llu data files (%s) + %d source files (%s), written in %.0f ms under %s\n",
              static_cast<unsigned long long>(n_data), human(static_cast<double>(data_bytes)).c_str(), args.files,
              human(static_cast<double>(ws_bytes - data_bytes)).c_str(), ms_since(t_gen), tmp.path.c_str());

  mlrc::WorkspaceOptions opts;
  opts.store = store;
  opts.fsync = args.fsync;
  mlrc::Workspace ws(root, opts);
  // Files written within the timestamp granularity of a snapshot are hashed again at the next
  // one (they could still change unseen); a real data set is older than that, so let it settle.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  const auto first = ws.snapshot("initial");

  // Agent steps: change one small file, record the workspace.
  std::vector<double> snap_ms;
  std::vector<std::uint64_t> snap_stored, snap_manifest, snap_hashed;
  for (int s = 0; s < args.steps; ++s) {
    const std::string path = "src/module_" + std::to_string(s % std::max(1, args.files)) + ".py";
    ws.append(path, "# step " + std::to_string(s) + ": tuned the learning rate\n");
    const auto info = ws.snapshot("step " + std::to_string(s));
    snap_ms.push_back(static_cast<double>(info.took.count()) / 1000.0);
    snap_stored.push_back(info.stored_bytes);
    snap_manifest.push_back(info.manifest_bytes);
    snap_hashed.push_back(info.hashed_bytes);
  }

  // The plain-copy approach: the whole workspace into a new folder per step. Each copy is removed
  // after it is measured so the benchmark does not fill the disk (a real run would keep them).
  std::vector<double> copy_ms;
  const auto space = fs::space(args.dir);
  const bool can_copy = space.available > 2 * ws_bytes;
  if (!can_copy)
    std::printf("(plain copy skipped: %s free in %s, need %s)\n", human(static_cast<double>(space.available)).c_str(),
                args.dir.c_str(), human(2.0 * static_cast<double>(ws_bytes)).c_str());
  for (int s = 0; can_copy && s < args.copy_steps; ++s) {
    ws.append("src/module_0.py", "# copy step " + std::to_string(s) + "\n");
    const fs::path dest = tmp.path / ("copy-" + std::to_string(s));
    const auto t0 = Clock::now();
    fs::copy(root, dest, fs::copy_options::recursive);
    copy_ms.push_back(ms_since(t0));
    fs::remove_all(dest);
  }

  const double sm = median(snap_ms), sx = snap_ms.empty() ? 0 : *std::max_element(snap_ms.begin(), snap_ms.end());
  std::printf("\n%-34s %12s %12s %14s %14s\n", "per step", "median ms", "max ms", "bytes written", "bytes hashed");
  std::printf("%-34s %12.1f %12s %14s %14s\n", "first snapshot", static_cast<double>(first.took.count()) / 1000.0, "",
              human(static_cast<double>(first.stored_bytes + first.manifest_bytes)).c_str(),
              human(static_cast<double>(first.hashed_bytes)).c_str());
  std::printf("%-34s %12.2f %12.2f %14s %14s\n", ("snapshot, 1 file changed (" + std::to_string(snap_ms.size()) + " steps)").c_str(),
              sm, sx, human(static_cast<double>(median(snap_stored) + median(snap_manifest))).c_str(),
              human(static_cast<double>(median(snap_hashed))).c_str());
  std::printf("%-34s %12s %12s %14s %14s\n", "  of which file content", "", "", human(static_cast<double>(median(snap_stored))).c_str(), "");
  std::printf("%-34s %12s %12s %14s %14s\n", "  of which manifest", "", "", human(static_cast<double>(median(snap_manifest))).c_str(), "");
  if (!copy_ms.empty()) {
    const double cm = median(copy_ms), cx = *std::max_element(copy_ms.begin(), copy_ms.end());
    std::printf("%-34s %12.1f %12.1f %14s %14s\n", ("plain copy (" + std::to_string(copy_ms.size()) + " steps)").c_str(), cm, cx,
                human(static_cast<double>(ws_bytes)).c_str(), "");
    std::printf("\nsnapshot vs copy per step: %.0fx less time, %.0fx fewer bytes\n", sm > 0 ? cm / sm : 0.0,
                static_cast<double>(ws_bytes) / static_cast<double>(std::max<std::uint64_t>(1, median(snap_stored) + median(snap_manifest))));
  }
  std::printf("store after %zu snapshots: %s (workspace: %s)%s\n", ws.snapshots().size(),
              human(static_cast<double>(tree_bytes(store))).c_str(), human(static_cast<double>(ws_bytes)).c_str(),
              args.fsync ? "" : "  [--no-fsync]");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "mlrc_bench_snapshot: %s\n", e.what());
  return 1;
}
