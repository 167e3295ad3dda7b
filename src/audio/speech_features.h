// Per-video-frame speech features for the classic engine's mouth and head motion:
// loudness, voicing, spectral centroid, low-band vs high-band energy and rough F1/F2
// (centroids of the first- and second-formant bands). Language-agnostic: it looks at the
// sound, not at words, so it never needs a recogniser or a model download.
//
// Why these: jaw opening follows loudness and F1 (open vowels have a high F1), lip spread
// follows F2 (i/e high, o/u low), fricatives are loud in the high band and unvoiced, and
// a short sharp dip between voiced stretches is most often a lip closure (p/b/m).
#pragma once

#include <vector>

namespace sonic::audio {

struct SpeechFrame {
  double loudness_db = -100;   // RMS of the frame's window in dBFS, floored at -100
  double voicing = 0;          // 0–1: normalised autocorrelation peak in the 70–400 Hz pitch range
  double centroid_hz = 0;      // spectral centroid of the whole spectrum
  double low_band_db = -100;   // energy 150–900 Hz (vowel body, F1)
  double high_band_db = -100;  // energy 2.5–7 kHz (fricatives)
  double f1_hz = 0;            // rough F1: spectral centroid of 250–1000 Hz
  double f2_hz = 0;            // rough F2: spectral centroid of 900–2800 Hz
};

// One SpeechFrame per video frame i, for i in [0, frame_count). The loudness window is the
// frame's own interval [i/fps, (i+1)/fps) moved by `window_offset_s` (positive = later
// audio); the spectral window (32 ms, Hann) is centred on the same interval's centre.
// Samples outside the recording count as silence. `samples` are mono at `sample_rate`.
std::vector<SpeechFrame> speech_features_per_frame(const std::vector<float>& samples,
                                                   int sample_rate, double fps, int frame_count,
                                                   double window_offset_s = 0.0);

}  // namespace sonic::audio
