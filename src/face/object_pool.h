// ObjectPool: lends out objects that are costly to build and not safe to share between
// threads (dlib's HOG detector and OpenCV's cascade classifier both keep scratch buffers).
// A caller borrows one for the length of a call; concurrent callers get their own instead
// of queueing behind one lock, and the pool grows to the peak number of concurrent callers.
// Objects are built outside the lock (they deserialise models). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace sonic::face {

template <class T>
class ObjectPool {
 public:
  // `make` builds one object; it may return nullptr (the lease is then empty).
  explicit ObjectPool(std::function<std::unique_ptr<T>()> make) : make_(std::move(make)) {}

  // The caller's object until the lease dies, when it goes back to the pool.
  class Lease {
   public:
    explicit Lease(ObjectPool& pool) : pool_(pool), object_(pool.take()) {}
    ~Lease() { pool_.give_back(std::move(object_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    T* get() const { return object_.get(); }
    T& operator*() const { return *object_; }

   private:
    ObjectPool& pool_;
    std::unique_ptr<T> object_;
  };

  // Adds a ready object (e.g. one built up front so the first call does not pay for it).
  void give_back(std::unique_ptr<T> object) {
    if (!object) return;
    const std::lock_guard lock(mutex_);
    idle_.push_back(std::move(object));
  }

 private:
  std::unique_ptr<T> take() {
    {
      const std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto object = std::move(idle_.back());
        idle_.pop_back();
        return object;
      }
    }
    return make_();
  }

  std::function<std::unique_ptr<T>()> make_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> idle_;  // guarded by mutex_
};

}  // namespace sonic::face
