#include "train/plot.h"

#include <cstdlib>
#include <fstream>

namespace nabla {

namespace fs = std::filesystem;

namespace {

// Quotes a path for a gnuplot string literal.
std::string gp_quote(const fs::path& p) {
  std::string s = "'";
  for (char c : p.string()) s += (c == '\'') ? std::string("''") : std::string(1, c);
  return s + "'";
}

// Quotes a path for /bin/sh.
std::string sh_quote(const fs::path& p) {
  std::string s = "'";
  for (char c : p.string()) s += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return s + "'";
}

}  // namespace

std::string plot_curves(const std::vector<MetricsRow>& rows, const fs::path& png,
                        const std::string& title) {
  if (rows.empty()) return "no metrics to plot";
  const fs::path data = png.string() + ".dat", script = png.string() + ".gp";
  {
    std::ofstream d(data);
    for (const auto& r : rows) {
      d << r.step << ' ' << r.train_loss << ' ' << r.train_acc << ' ' << r.test_loss << ' '
        << r.test_acc << ' ' << r.val_loss << ' ' << r.val_acc << '\n';
    }
    const bool val = rows.front().has_validation;
    const std::string val_acc = val ? ", '' using 1:7 with linespoints title 'validation'" : "";
    const std::string val_loss = val ? ", '' using 1:6 with linespoints title 'validation'" : "";
    std::ofstream s(script);
    std::string safe_title;
    for (char c : title) safe_title += (c == '\'' ? ' ' : c);
    s << "set terminal pngcairo size 1200,480 enhanced font 'sans,10'\n"
      << "set output " << gp_quote(png) << "\n"
      << "set multiplot layout 1,2 title '" << safe_title << "'\n"
      << "set grid\nset xlabel 'step'\nset key bottom right\n"
      << "set title 'accuracy'\nset ylabel 'accuracy'\n"
      << "plot " << gp_quote(data) << " using 1:3 with linespoints title 'train (batch)', '' "
      << "using 1:5 with linespoints title 'test'" << val_acc << "\n"
      << "set key top right\nset title 'loss'\nset ylabel 'cross-entropy loss'\n"
      << "plot " << gp_quote(data) << " using 1:2 with linespoints title 'train (batch)', '' "
      << "using 1:4 with linespoints title 'test'" << val_loss << "\n"
      << "unset multiplot\n";
  }
  const std::string cmd = "gnuplot " + sh_quote(script) + " >/dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  std::error_code ec;
  fs::remove(data, ec);
  fs::remove(script, ec);
  if (rc != 0) return "gnuplot failed or is not installed (apt-get install gnuplot-nox)";
  return {};
}

}  // namespace nabla
