// audio/ — what the sound says, frame by frame: loudness, voicing and spectral shape, for
// the engine's mouth and motion and for `score`. Pure numeric code; calls only util/.
#pragma once

#include <vector>

namespace sonic::audio {

// Loudness per video frame: RMS level in dBFS of the samples in [i/fps, (i+1)/fps),
// floored at -100 dB. `samples` are mono at `sample_rate`. Size = ceil(n / (rate/fps)).
std::vector<double> loudness_dbfs_per_frame(const std::vector<float>& samples, int sample_rate,
                                            double fps);

}  // namespace sonic::audio
