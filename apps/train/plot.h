// Curves of a run (train and test accuracy and loss against steps) drawn by gnuplot.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "train/metrics.h"

namespace nabla {

// Writes a PNG with two panels, accuracy and loss. Returns an empty string on success, else why
// it failed (gnuplot missing, say): a plot is never worth losing a run over.
std::string plot_curves(const std::vector<MetricsRow>& rows, const std::filesystem::path& png,
                        const std::string& title);

}  // namespace nabla
