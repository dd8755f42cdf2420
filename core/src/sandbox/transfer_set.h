// The file transfers in flight on one sandbox, each with a way to cut it short.
//
// A teardown closes the set before it removes the sandbox: an engine may wait for a transfer
// on the container to end before it removes it (Docker's forced DELETE does), and a transfer
// can be held up by a client that stopped reading. Closing cancels every transfer and refuses
// new ones, so a stop never waits on a client.
#pragma once

#include <functional>
#include <list>
#include <mutex>

#include "grid/result.h"

namespace grid {

class TransferSet {
 public:
  /// Cuts one transfer short; must return promptly (closing a socket, say) and may run on
  /// another thread than the transfer's.
  using Cancel = std::function<void()>;

  /// Keeps one transfer in the set; leaving the set on destruction.
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration();

   private:
    friend class TransferSet;
    Registration(TransferSet* set, std::list<Cancel>::iterator entry) : set_(set), entry_(entry) {}
    void release();

    TransferSet* set_ = nullptr;
    std::list<Cancel>::iterator entry_;
  };

  /// Adds a transfer; kConflict once the set is closed (the sandbox is stopping).
  Result<Registration> add(Cancel cancel);

  /// Cancels every transfer in the set and refuses new ones.
  void close();

  size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::list<Cancel> transfers_;
  bool closed_ = false;
};

}  // namespace grid
