// The MPI datatype of a float or a double, for nabla::dist's collectives.
#pragma once

#include <mpi.h>

#include <type_traits>

namespace nabla::dist::detail {

template <typename T>
MPI_Datatype mpi_type() {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

}  // namespace nabla::dist::detail
