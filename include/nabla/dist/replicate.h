/// \file
/// Putting a model on several processes: the same starting point everywhere (broadcast_module),
/// running statistics kept equal (broadcast_buffers, as DDP's broadcast_buffers), and batch norm
/// over the global batch (convert_sync_batchnorm, as
/// torch.nn.SyncBatchNorm.convert_sync_batchnorm).
#pragma once

#include "nabla/dist/communicator.h"
#include "nabla/nn/module.h"

namespace nabla::dist {

/// Copies root's parameters and buffers into every process's `model` (same architecture on all).
template <typename T>
void broadcast_module(nn::Module<T>& model, const Communicator& comm, int root = 0);

/// Copies root's buffers (batch norm's running statistics) into every process's `model`.
template <typename T>
void broadcast_buffers(nn::Module<T>& model, const Communicator& comm, int root = 0);

/// Makes every batch norm of `model` (BatchNorm1d/2d and the report's batch-statistics batch
/// norms) use the statistics of all processes' batches in training, summed over a duplicate of
/// `comm`. Returns how many it changed. For a single process it changes nothing and returns 0.
template <typename T>
int convert_sync_batchnorm(nn::Module<T>& model, const Communicator& comm);

}  // namespace nabla::dist
