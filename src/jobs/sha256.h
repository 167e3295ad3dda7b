// SHA-256 moved to util/sha256.h (the engine's face cache hashes pictures too); these names
// keep the jobs/ and http/ code that says jobs::Sha256 working unchanged.
#pragma once

#include "util/sha256.h"

namespace sonic::jobs {
using sonic::Sha256;
using sonic::sha256_file_hex;
using sonic::sha256_hex;
}  // namespace sonic::jobs
