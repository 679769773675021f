/// \file
/// The errors nabla throws for what a caller or a file got wrong; every layer may throw them.
#pragma once

#include <stdexcept>

namespace nabla {

/// Bad or missing outside input (a data set, a model file, an image): the message names the file
/// and what is wrong.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A bad setting (a flag, a layer's argument, a state dict that does not fit): the message starts
/// with the setting's name. The command line exits 2 on it.
class ConfigError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace nabla
