// The `nabla` command line: parses flags and calls the library, nothing else.
#pragma once

namespace nabla {

// Runs `nabla` with these arguments and returns its exit code: 0 success, 1 failure at run time
// (bad data, unwritable output), 2 bad usage (unknown flag, bad value).
int run_cli(int argc, const char* const* argv);

}  // namespace nabla
