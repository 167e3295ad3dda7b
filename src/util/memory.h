// Giving freed memory back to the operating system (issue 10, "flat memory").
//
// A job allocates hundreds of MB in short-lived blocks (decoded pictures, frame buffers,
// x264's lookahead, dlib's image pyramid) on several threads. glibc's malloc keeps what
// its arenas freed and fragments across the many HTTP and engine threads: over 300 jobs
// RSS rose from 313 to 1448 MB (trimming after each job: 187 → 318 MB, still rising). The
// release binary therefore links jemalloc, which stays flat; this function then purges
// its arenas after each job so RSS drops at once instead of after jemalloc's decay time.
// Under the sanitizers (no jemalloc) it trims glibc's heap. Figures: docs/jobs.md.
#pragma once

namespace sonic {

// Returns the allocator's free memory to the OS; cheap enough to call after each job.
void return_free_memory();

}  // namespace sonic
